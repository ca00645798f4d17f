"""What a driver does with each label Magnum documents for its COE: one rule per label.

Magnum's labels are free-form strings, and each COE driver upstream reads the ones it knows. A
label Magna accepts must do what it says on the cluster, or be refused when the user asks. So
every local driver keeps a table of ``LabelRule``s (``local_swarm/labels.py``,
``local_kubernetes/labels.py``), one per label Magnum documents for its COE:

- honoured: the value is checked (a bad one is a 400 naming the label, the value and what is
  accepted) and the driver acts on it;
- pinned: accepted only at the value that describes what the driver does anyway
  (``cgroup_driver=cgroupfs``) or that turns the feature off (``monitoring_enabled=false``);
- refused: a component or a knob the driver does not have (``calico_tag``,
  ``kubelet_options``), accepted only empty.

``check`` runs a table over a resource's labels; labels the table does not name are the user's
own metadata: stored, returned, without effect (the docs say so). The same tables render the
labels part of ``docs/template-settings.md`` (``labels_doc.py``), so the docs cannot drift from
what the drivers do.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from magna.common.exceptions import PermanentError

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")

# check(value, kind) raises PermanentError naming the label; kind is the driver ("local Swarm").
Check = Callable[[str, str], None]


@dataclass(frozen=True)
class LabelRule:
    """One label: what it does on this driver, its value when unset, what is refused."""

    name: str
    effect: str
    default: str
    refused: str
    check: Check


def flag(value: str | None, *, default: bool = False) -> bool:
    """A boolean label's meaning (unset: ``default``); values ``check`` accepted only."""
    if value is None or not value.strip():
        return default
    return value.strip().lower() in TRUE


def check(rules: Iterable[LabelRule], labels: Mapping[str, str], *, kind: str) -> None:
    """Refuse (``PermanentError``) the first label whose value its rule refuses."""
    by_name = {rule.name: rule for rule in rules}
    for name in sorted(labels):
        rule = by_name.get(name)
        if rule is not None:
            rule.check(str(labels[name]), kind)


def refusal(name: str, value: str, kind: str, why: str) -> PermanentError:
    return PermanentError(f"Label {name}={value} is not accepted by the {kind} driver; {why}")


# -- rule makers ---------------------------------------------------------------------------

def choice(name: str, values: tuple[str, ...], *, effect: str, default: str) -> LabelRule:
    """Honoured: one of ``values``."""
    def check_(value: str, kind: str) -> None:
        if value not in values:
            raise refusal(name, value, kind, f"accepted: {', '.join(values)}.")
    return LabelRule(name, effect, default, f"anything but {', '.join(values)}", check_)


def boolean(name: str, *, effect: str, default: str = "false") -> LabelRule:
    """Honoured: true or false (``flag`` reads it)."""
    def check_(value: str, kind: str) -> None:
        if value.strip().lower() not in TRUE + FALSE:
            raise refusal(name, value, kind, "accepted: true or false.")
    return LabelRule(name, effect, default, "anything but true or false", check_)


def pinned(name: str, values: tuple[str, ...], *, effect: str, why: str,
           default: str | None = None, refused: str | None = None) -> LabelRule:
    """Accepted only at ``values`` (what the driver does anyway); ``why`` says what it does."""
    shown = ", ".join(v if v else '""' for v in values)

    def check_(value: str, kind: str) -> None:
        if value.strip().lower() not in values:
            raise refusal(name, value, kind, f"{why} Accepted: {shown}.")
    return LabelRule(name, effect, values[0] if default is None else default,
                     refused or f"anything but {shown}", check_)


def off_only(name: str, *, what: str, upstream_default: str = "false") -> LabelRule:
    """A feature the driver does not deploy: accepted only when it says off."""
    note = "" if upstream_default == "false" else f" (Magnum's default is {upstream_default})"
    return pinned(name, ("", *FALSE), default="false", refused="true (anything but false)",
                  effect=f"None: {what} is not deployed{note}.",
                  why=f"{what} is not deployed by this driver.")


def absent(name: str, *, what: str) -> LabelRule:
    """A component or knob the driver does not have: accepted only empty."""
    def check_(value: str, kind: str) -> None:
        if value.strip():
            raise refusal(name, value, kind, f"{what}")
    return LabelRule(name, f"None: {what}", '""', "any value but empty", check_)


def ipv4_network(name: str, *, effect: str, default: str) -> LabelRule:
    """Honoured: an IPv4 network in CIDR notation."""
    def check_(value: str, kind: str) -> None:
        try:
            ipaddress.IPv4Network(value)
        except ValueError:
            raise refusal(name, value, kind, "accepted: an IPv4 network in CIDR notation "
                                             "(e.g. 10.100.0.0/16).") from None
    return LabelRule(name, effect, default, "anything but an IPv4 network (CIDR)", check_)


def integer(name: str, *, effect: str, default: str, low: int, high: int) -> LabelRule:
    """Honoured: an integer from ``low`` to ``high``."""
    def check_(value: str, kind: str) -> None:
        if not value.strip().isdigit() or not low <= int(value) <= high:
            raise refusal(name, value, kind, f"accepted: an integer from {low} to {high}.")
    return LabelRule(name, effect, default, f"anything but an integer from {low} to {high}",
                     check_)


# NOTE: the default worker nodegroup's bounds mean the same on every driver (the services apply
# them at resize), so both local drivers' tables take these two rules as they are.
NODE_COUNT_BOUNDS = (
    integer("min_node_count", default="0", low=0, high=1000,
            effect="The default worker nodegroup's min_node_count: a resize below it is "
                   "refused."),
    integer("max_node_count", default="none", low=0, high=1000,
            effect="The default worker nodegroup's max_node_count: a resize above it is "
                   "refused."),
)
