"""Which nodes a cluster has, what they are called, which slot (address) each holds, and what
each node is made of (flavor, image, engine environment): pure rules over the cluster spec plus
the one record that makes them stable, ``slots.json``.

Nodes are ``<nodegroup>-<i>``, masters first. A node keeps its slot (hence its IP) while it
exists: ``assign_slots`` only adds, and a slot is dropped (``Slots.drop``) as the last step of
removing its node, so a crash anywhere in between repeats an idempotent removal. Nothing here
knows the orchestrator: names, slots, flavors and images are what any COE's nodes have.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from magna.common.exceptions import PermanentError
from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.catalog import Flavor, find
from magna.drivers.local_nodes import network
from magna.drivers.local_nodes.catalog import FLAVORS, IMAGES

SLOTS = "slots.json"


def planned_names(spec: ClusterSpec, existing: Sequence[str], retired: Sequence[str] = ()
                  ) -> list[tuple[str, str, str]]:
    """(node name, nodegroup, role) for every node the spec asks for, masters first.

    Existing nodes are kept, except those named in ``nodes_to_remove`` or ``retired`` (being
    replaced by auto-healing) and, beyond the wanted count, the newest; missing ones get the
    lowest unused ``<nodegroup>-<i>``.
    """
    groups = sorted((ng for ng in spec.nodegroups if ng.present),
                    key=lambda ng: (ng.role != "master", ng.name))
    planned = []
    for ng in groups:
        mine = sorted((name for name in existing if group_of(name) == ng.name), key=_index)
        keep = [name for name in mine
                if name not in ng.nodes_to_remove and name not in retired][:ng.node_count]
        index = 0
        while len(keep) < ng.node_count:
            if f"{ng.name}-{index}" not in mine:
                keep.append(f"{ng.name}-{index}")
            index += 1
        planned += [(name, ng.name, ng.role) for name in sorted(keep, key=_index)]
    return planned


def group_of(node: str) -> str:
    return node.rsplit("-", 1)[0]


def _index(node: str) -> int:
    suffix = node.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else -1


def assign_slots(current: dict[str, int], names: Sequence[str]) -> dict[str, int]:
    """Keep every recorded slot (a node's address never changes while it exists); give new
    names the lowest free ones. Slots of nodes no longer wanted stay until they are removed."""
    slots = dict(current)
    for name in names:
        if name not in slots:
            used = set(slots.values())
            slots[name] = next(slot for slot in range(1, len(used) + 2) if slot not in used)
    return slots


def hostname(cluster_name: str, node: str) -> str:
    text = re.sub(r"[^a-z0-9-]+", "-", f"{cluster_name}-{node}".lower()).strip("-")
    return text[:63].rstrip("-") or node


@dataclass(frozen=True)
class Slots:
    """A cluster's ``slots.json``: node name -> slot, written under the state root's lock."""

    root: str  # the driver's state root (its lock file lives there)
    cluster_dir: str

    def read(self) -> dict[str, int]:
        try:
            with open(os.path.join(self.cluster_dir, SLOTS)) as handle:
                current: dict[str, int] = json.load(handle)
                return current
        except FileNotFoundError:
            return {}

    def claim(self, names: Sequence[str]) -> dict[str, int]:
        """Give ``names`` their slots (new ones the lowest free); every recorded one stays."""
        return self._write(lambda current: assign_slots(current, names))

    def drop(self, name: str) -> dict[str, int]:
        """The last step of removing a node."""
        return self._write(lambda current: {other: slot for other, slot in current.items()
                                            if other != name})

    def _write(self, change: Callable[[dict[str, int]], dict[str, int]]) -> dict[str, int]:
        with network.locked(self.root):
            current = self.read()
            wanted = change(current)
            if wanted != current:
                network.write_json(os.path.join(self.cluster_dir, SLOTS), wanted)
            return wanted


def flavor_of(ident: str | None) -> Flavor | None:
    """The catalog flavor named by ``ident`` (id or name); None when the nodegroup has none.
    The API refuses unknown flavors; one here (a catalog that lost it) fails the cluster."""
    if ident is None:
        return None
    flavor = find(FLAVORS, ident)
    if flavor is None:
        raise PermanentError(f"Unable to find flavor {ident}.")
    return flavor


def image_name(spec: ClusterSpec, group: NodeGroupSpec | None) -> str:
    ident = (group.image_id if group is not None else None) or spec.image_id
    image = find(IMAGES, ident)
    return image.name if image is not None else ident


def os_distro(spec: ClusterSpec, group: NodeGroupSpec | None) -> str | None:
    """The distro of the node's image (what its login user follows, ``ssh.py``)."""
    ident = (group.image_id if group is not None else None) or spec.image_id
    image = find(IMAGES, ident)
    return image.os_distro if image is not None else None


def engine_environment(spec: ClusterSpec) -> tuple[tuple[str, str], ...]:
    """The template's proxies as dockerd's environment (Docker 20.10 has no daemon.json keys
    for them); dockerd uses them to pull images."""
    pairs = (("HTTP_PROXY", spec.http_proxy), ("HTTPS_PROXY", spec.https_proxy),
             ("NO_PROXY", spec.no_proxy))
    return tuple((name, value) for name, value in pairs if value)
