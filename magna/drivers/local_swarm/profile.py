"""What one node should be in the swarm, from its nodegroup and the cluster's template: its
swarm labels and availability (its flavor, image and engine settings are the node layer's,
``local_nodes/planning.py``).

Swarm has no taints; they map onto what it has (documented in docs/local-driver.md):

    NoSchedule, PreferNoSchedule  -> availability ``pause``  (no new tasks)
    NoExecute                     -> availability ``drain``  (running tasks move away)

and each taint is also a label ``taint.<key>=<value>:<effect>`` so placement constraints can
name it. ``apply`` writes labels and availability through a manager, only for nodes whose
current values differ, so it runs on every pass.

Labels the driver owns: ``magna.*``, ``taint.*`` and the nodegroup's ``node_labels`` (whose keys
it records in ``magna.node-labels`` so a key dropped from ``node_labels`` is removed). Labels
anyone else set on the node are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import docker

from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.catalog import Flavor
from magna.drivers.local_nodes.node import LocalNode
from magna.drivers.local_nodes.planning import flavor_of, image_name

OWNED_PREFIXES = ("magna.", "taint.")
NODE_LABEL_KEYS = "magna.node-labels"
ACTIVE, PAUSE, DRAIN = "active", "pause", "drain"
# NOTE: the stronger effect wins when a nodegroup has several taints.
_AVAILABILITY = {"NoSchedule": PAUSE, "PreferNoSchedule": PAUSE, "NoExecute": DRAIN}
_RANK = {ACTIVE: 0, PAUSE: 1, DRAIN: 2}


@dataclass(frozen=True)
class NodeProfile:
    flavor: Flavor | None
    labels: Mapping[str, str] = field(default_factory=dict)
    availability: str = ACTIVE


def availability_for(taints: Sequence[Mapping[str, Any]]) -> str:
    found = [_AVAILABILITY.get(str(taint.get("effect", "")), ACTIVE) for taint in taints]
    return max(found, key=_RANK.__getitem__, default=ACTIVE)


def taint_labels(taints: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {f"taint.{taint['key']}": f"{taint.get('value') or ''}:{taint.get('effect', '')}"
            for taint in taints}


def profile_for(spec: ClusterSpec, group: NodeGroupSpec) -> NodeProfile:
    flavor = flavor_of(group.flavor_id)
    labels = {**{str(k): str(v) for k, v in group.node_labels.items()},
              **taint_labels(group.node_taints),
              "magna.nodegroup": group.name, "magna.role": group.role,
              "magna.image": image_name(spec, group)}
    if flavor is not None:
        labels["magna.flavor"] = flavor.name
    if group.node_labels:
        labels[NODE_LABEL_KEYS] = ",".join(sorted(map(str, group.node_labels)))
    return NodeProfile(flavor=flavor, labels=labels,
                       availability=availability_for(group.node_taints))


def by_node(spec: ClusterSpec, nodes: Iterable[LocalNode]) -> dict[str, NodeProfile]:
    """Every node's profile, from its nodegroup (none for a node whose group is gone)."""
    groups = {ng.name: ng for ng in spec.nodegroups}
    return {node.name: profile_for(spec, groups[node.nodegroup])
            if node.nodegroup in groups else NodeProfile(None) for node in nodes}


def merged_labels(current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The node's labels after applying ``wanted``: labels the driver owns (``magna.*``,
    ``taint.*`` and the keys recorded in ``magna.node-labels``) are replaced, others kept."""
    recorded = {key for key in current.get(NODE_LABEL_KEYS, "").split(",") if key}
    kept = {key: value for key, value in current.items()
            if not key.startswith(OWNED_PREFIXES) and key not in recorded}
    return {**kept, **wanted}


def apply(client: docker.DockerClient, wanted: Mapping[str, NodeProfile]) -> list[str]:
    """Give every swarm node whose hostname is in ``wanted`` its labels and availability
    (through a manager); return the hostnames changed. This also restores the availability of
    a node a rollout drained when the rollout was interrupted."""
    changed = []
    for node in client.nodes.list():
        attrs: dict[str, Any] = node.attrs
        hostname = attrs.get("Description", {}).get("Hostname", "")
        profile = wanted.get(hostname)
        if profile is None or attrs.get("Status", {}).get("State") == "down":
            continue
        spec: dict[str, Any] = dict(attrs.get("Spec", {}))
        labels = merged_labels(spec.get("Labels") or {}, profile.labels)
        availability = profile.availability
        if labels != (spec.get("Labels") or {}) or availability != spec.get("Availability"):
            node.update({**spec, "Labels": labels, "Availability": availability})
            changed.append(hostname)
    return changed
