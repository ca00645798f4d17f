"""Which pods a drain evicts from a node, and the Eviction it posts for each.

``kubectl drain`` semantics, as the driver needs them before it removes a node: every pod bound
to the node goes through the Eviction subresource (so PodDisruptionBudgets are honoured),
except mirror pods (the kubelet's static pods: deleting the mirror does nothing) and pods a
DaemonSet controls (its controller would put them straight back, and they die with the node).
A pod already terminating is waited for, not evicted again. Pure: pod objects in, decisions out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


class PodRef(NamedTuple):
    namespace: str
    name: str
    terminating: bool

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def _mirror(pod: Mapping[str, Any]) -> bool:
    return MIRROR_ANNOTATION in (pod.get("metadata", {}).get("annotations") or {})


def _daemon(pod: Mapping[str, Any]) -> bool:
    owners = pod.get("metadata", {}).get("ownerReferences") or []
    return any(owner.get("kind") == "DaemonSet" and owner.get("controller") for owner in owners)


def evictable(pods: Iterable[Mapping[str, Any]]) -> list[PodRef]:
    """The pods a drain must see gone, in the order given."""
    return [PodRef(str(pod["metadata"].get("namespace", "default")), str(pod["metadata"]["name"]),
                   terminating=bool(pod["metadata"].get("deletionTimestamp")))
            for pod in pods if not _mirror(pod) and not _daemon(pod)]


def eviction(pod: PodRef) -> dict[str, Any]:
    """The body to POST to ``.../pods/<name>/eviction`` (policy/v1beta1 in Kubernetes 1.20)."""
    return {"apiVersion": "policy/v1beta1", "kind": "Eviction",
            "metadata": {"name": pod.name, "namespace": pod.namespace}}
