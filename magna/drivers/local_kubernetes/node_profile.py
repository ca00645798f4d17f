"""The labels and taints Magna manages on a registered node, and only those.

A nodegroup asks for ``node_labels`` and ``node_taints``; its nodes must carry them. Others may
label and taint the same nodes too (the kubelet, the node controller, an administrator with
``kubectl``), and Magna must leave their work alone. So a node remembers what Magna set, in the
annotation ``MANAGED_ANNOTATION`` (JSON: label keys, and taints by key and effect), and
``desired`` computes the node's next labels, taints and annotation from its current object:

- every wanted label and taint is set (a wanted one that someone else set becomes Magna's);
- one Magna set before and no longer wants is removed;
- everything else is kept as it is, in its order.

Pure: object in, ``Profile`` out; ``kubeapi.KubeAPI.set_node_profile`` reads and writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MANAGED_ANNOTATION = "magna.openstack.org/node-profile"

TaintKey = tuple[str, str]  # (key, effect): what identifies a taint on a node


@dataclass(frozen=True)
class Profile:
    """A node's labels, taints and Magna's annotation."""

    labels: dict[str, str]
    taints: list[dict[str, Any]]
    annotation: str


def taint(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A taint as the API spells it, from a nodegroup's ``node_taints`` entry."""
    shaped = {"key": str(entry["key"]), "effect": str(entry.get("effect", ""))}
    if entry.get("value"):
        shaped["value"] = str(entry["value"])
    return shaped


def _identity(entry: Mapping[str, Any]) -> TaintKey:
    return str(entry.get("key", "")), str(entry.get("effect", ""))


def managed(node: Mapping[str, Any]) -> tuple[set[str], set[TaintKey]]:
    """What Magna set on ``node`` before (nothing when it never did or the note is unreadable)."""
    annotations = node.get("metadata", {}).get("annotations") or {}
    try:
        note = json.loads(annotations.get(MANAGED_ANNOTATION, "{}"))
        return ({str(key) for key in note.get("labels", [])},
                {(str(key), str(effect)) for key, effect in note.get("taints", [])})
    except (ValueError, TypeError, AttributeError):
        return set(), set()


def desired(node: Mapping[str, Any], labels: Mapping[str, str],
            taints: Sequence[Mapping[str, Any]]) -> Profile:
    """``node``'s labels, taints and annotation once it carries ``labels`` and ``taints``."""
    old_labels, old_taints = managed(node)
    current_taints = node.get("spec", {}).get("taints") or []
    wanted_taints = [_existing(taint(entry), current_taints) for entry in taints]
    wanted_ids = {_identity(entry) for entry in wanted_taints}
    current_labels = node.get("metadata", {}).get("labels") or {}
    kept_labels = {key: value for key, value in current_labels.items()
                   if key not in old_labels or key in labels}
    kept_taints = [entry for entry in current_taints
                   if _identity(entry) not in old_taints | wanted_ids]
    return Profile(labels={**kept_labels, **{str(k): str(v) for k, v in labels.items()}},
                   taints=[*kept_taints, *wanted_taints],
                   annotation=note(labels, wanted_ids))


def _bare(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A taint without the ``timeAdded`` a server or controller may stamp on it."""
    return {key: value for key, value in entry.items() if key != "timeAdded" and value}


def _existing(wanted: dict[str, Any], current: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The node's own copy of a wanted taint when it has one (keeping its ``timeAdded``)."""
    return next((dict(entry) for entry in current if _bare(entry) == wanted), wanted)


def note(labels: Iterable[str], taints: Iterable[TaintKey]) -> str:
    return json.dumps({"labels": sorted(labels), "taints": sorted(map(list, taints))},
                      separators=(",", ":"))


def applied(node: Mapping[str, Any], profile: Profile) -> dict[str, Any]:
    """``node`` (a copy) carrying ``profile``."""
    metadata = dict(node.get("metadata", {}))
    metadata["labels"] = profile.labels
    metadata["annotations"] = {**(metadata.get("annotations") or {}),
                               MANAGED_ANNOTATION: profile.annotation}
    spec = {key: value for key, value in node.get("spec", {}).items() if key != "taints"}
    if profile.taints:
        spec["taints"] = profile.taints
    return {**node, "metadata": metadata, "spec": spec}


def carries(node: Mapping[str, Any], profile: Profile) -> bool:
    """Whether ``node`` already is as ``profile`` says (then nothing needs writing)."""
    metadata = node.get("metadata", {})
    return ((metadata.get("labels") or {}) == profile.labels
            and [_bare(entry) for entry in node.get("spec", {}).get("taints") or []]
            == [_bare(entry) for entry in profile.taints]
            and (metadata.get("annotations") or {}).get(MANAGED_ANNOTATION)
            == profile.annotation)
