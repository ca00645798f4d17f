"""What one node should be, from its nodegroup and the cluster's template: its flavor, its
image, its swarm labels and availability, and the engine settings the template asks for.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import docker

from magna.common.exceptions import PermanentError
from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.catalog import Flavor, find
from magna.drivers.local_swarm.catalog import FLAVORS, IMAGES

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


def merged_labels(current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The node's labels after applying ``wanted``: labels the driver owns (``magna.*``,
    ``taint.*`` and the keys recorded in ``magna.node-labels``) are replaced, others kept."""
    recorded = {key for key in current.get(NODE_LABEL_KEYS, "").split(",") if key}
    kept = {key: value for key, value in current.items()
            if not key.startswith(OWNED_PREFIXES) and key not in recorded}
    return {**kept, **wanted}


def engine_environment(spec: ClusterSpec) -> tuple[tuple[str, str], ...]:
    """The template's proxies as dockerd's environment (Docker 20.10 has no daemon.json keys
    for them); dockerd uses them to pull images."""
    pairs = (("HTTP_PROXY", spec.http_proxy), ("HTTPS_PROXY", spec.https_proxy),
             ("NO_PROXY", spec.no_proxy))
    return tuple((name, value) for name, value in pairs if value)


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
