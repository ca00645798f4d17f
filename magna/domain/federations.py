"""Federations: the rules of a named group of clusters, without any I/O.

A federation is a host cluster and member clusters of one project, with ``properties`` of which
Magna reads one, ``dns-zone``. Magna runs no federation control plane: the record *is* the
membership, so every rule here is a check made when membership changes:

- ``check_properties``: a dict of strings holding a valid ``dns-zone``;
- ``check_eligible``: a cluster may host or join only when its last operation completed
  (``clusters.UPDATABLE``) and it is not being deleted, and only within the federation's project;
- ``membership_ops``: Magnum's PATCH shorthand, ``add``/``remove`` of one cluster on
  ``/member_ids``, turned into a ``replace`` of the whole list (join an existing member: 409;
  unjoin a non-member: 404), so that the rest of a PATCH is plain JSON patch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from magna.common.exceptions import Conflict, Invalid, NotFound
from magna.domain import clusters as lifecycle

CREATE_COMPLETE = lifecycle.CREATE_COMPLETE
UPDATE_COMPLETE = lifecycle.UPDATE_COMPLETE
DNS_ZONE = "dns-zone"
MEMBERS = "/member_ids"
PATCHABLE = frozenset({"member_ids", "properties"})
# Statuses a cluster may be in to host or join a federation: its last operation completed.
ELIGIBLE = lifecycle.UPDATABLE
_DELETING = lifecycle.DELETING | {lifecycle.DELETE_FAILED}

_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
MAX_ZONE = 253
MAX_PROPERTY = 255


def dns_zone_problem(zone: str) -> str | None:
    """Why ``zone`` is not a DNS zone name (None when it is one). A trailing dot is allowed;
    labels are 1-63 letters, digits or inner hyphens; the whole name at most 253 characters;
    the last label is not all digits (that would be an IPv4 address)."""
    name = zone[:-1] if zone.endswith(".") else zone
    if not name:
        return "it is empty"
    if len(name) > MAX_ZONE:
        return f"it is longer than {MAX_ZONE} characters"
    labels = name.split(".")
    bad = next((label for label in labels if not _LABEL.match(label)), None)
    if bad is not None:
        return (f"label '{bad}' is not 1 to 63 letters, digits or hyphens (no hyphen at either "
                "end)")
    if labels[-1].isdigit():
        return "its last label is all digits"
    return None


def check_properties(properties: Any) -> dict[str, str]:
    """``properties`` as stored: a dict of strings with a valid ``dns-zone`` (400 otherwise)."""
    if not isinstance(properties, dict):
        raise Invalid(f"Invalid input for field/attribute properties. Value: '{properties}'. "
                      "Value should be a JSON object of strings.")
    for key, value in properties.items():
        if not isinstance(value, str) or not key or len(key) > MAX_PROPERTY or \
                len(value) > MAX_PROPERTY:
            raise Invalid(f"Invalid input for field/attribute properties. Value: "
                          f"'{key}': '{value}'. Keys and values are strings of at most "
                          f"{MAX_PROPERTY} characters (keys not empty).")
    if DNS_ZONE not in properties:
        raise Invalid("Invalid input for field/attribute properties. The 'dns-zone' property "
                      "is required (a DNS zone name such as 'example.com.').")
    problem = dns_zone_problem(properties[DNS_ZONE])
    if problem is not None:
        raise Invalid(f"Invalid input for field/attribute properties. 'dns-zone' "
                      f"'{properties[DNS_ZONE]}' is not a DNS zone name: {problem}.")
    return dict(properties)


def check_eligible(*, role: str, ident: str, status: str | None, desired_state: str,
                   project_id: str | None, federation_project: str | None) -> None:
    """Refuse (400) a cluster as ``role`` ("host" or "member") of a federation unless it is
    settled, not being deleted, and of the federation's project."""
    if desired_state == lifecycle.ABSENT or status in _DELETING:
        raise Invalid(f"Cluster {ident} is being deleted and cannot be the {role} of a "
                      "federation.")
    if status not in ELIGIBLE:
        raise Invalid(f"Cluster {ident} cannot be the {role} of a federation while its status "
                      f"is {status}: its last operation must have completed "
                      f"({', '.join(sorted(ELIGIBLE))}).")
    if project_id != federation_project:
        raise Invalid(f"Cluster {ident} belongs to another project than the federation; a "
                      "federation groups the clusters of one project.")


def check_members(members: Any) -> list[str]:
    """``member_ids`` as a list of distinct strings (400 otherwise)."""
    if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
        raise Invalid(f"Invalid input for field/attribute member_ids. Value: '{members}'. "
                      "Value should be a list of cluster names or UUIDs.")
    return list(members)


def distinct(uuids: Sequence[str], idents: Sequence[str]) -> None:
    """Refuse (400) a member list that names one cluster twice (``idents`` as given)."""
    seen: dict[str, str] = {}
    for uuid, ident in zip(uuids, idents, strict=True):
        if uuid in seen:
            raise Invalid(f"Cluster {ident} is listed twice in member_ids.")
        seen[uuid] = ident


def membership_ops(members: Sequence[str], ops: Iterable[Mapping[str, Any]],
                   resolve: Callable[[str], str], federation: str) -> list[dict[str, Any]]:
    """``ops`` with each join (``add``) and unjoin (``remove``) of one cluster on
    ``/member_ids`` replaced by a ``replace`` of the whole list, in order.

    ``resolve`` turns a cluster name or UUID into its UUID (or raises ``NotFound``).
    """
    current = list(members)
    result: list[dict[str, Any]] = []
    for op in ops:
        if op.get("path") != MEMBERS or op.get("op") not in ("add", "remove") or \
                not isinstance(op.get("value"), str):
            result.append(dict(op))
            continue
        if op["op"] == "add":
            current = _joined(current, resolve(op["value"]), op["value"], federation)
        else:
            current = _unjoined(current, op["value"], resolve, federation)
        result.append({"op": "replace", "path": MEMBERS, "value": list(current)})
    return result


def _joined(current: list[str], uuid: str, ident: str, federation: str) -> list[str]:
    if uuid in current:
        raise Conflict(f"Cluster {ident} is already a member of federation {federation}.")
    return [*current, uuid]


def _unjoined(current: list[str], ident: str, resolve: Callable[[str], str],
              federation: str) -> list[str]:
    uuid = ident if ident in current else resolve(ident)
    if uuid not in current:
        raise NotFound(f"Cluster {ident} is not a member of federation {federation}.")
    return [m for m in current if m != uuid]
