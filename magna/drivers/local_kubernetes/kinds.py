"""Where each kind of object lives in the Kubernetes 1.20 API: kind -> URL path.

The API server serves core kinds under ``/api/v1`` and named groups under
``/apis/<group>/<version>``; a collection's path is the lower-case plural of its kind, inside
``namespaces/<namespace>`` for namespaced kinds. Discovery would tell all this at run time; the
driver applies a handful of kinds it knows, so a small table says it without a round trip and
without a discovery cache. A kind missing here is a programming error (``UnknownKind``), not a
request to guess a plural.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"


class UnknownKind(ValueError):
    """A kind the table does not name."""


@dataclass(frozen=True)
class Kind:
    api_version: str  # the version the driver speaks when a manifest does not say
    plural: str
    namespaced: bool


def _core(plural: str, namespaced: bool = True) -> Kind:
    return Kind("v1", plural, namespaced)


KINDS: dict[str, Kind] = {
    "Namespace": _core("namespaces", namespaced=False),
    "Node": _core("nodes", namespaced=False),
    "PersistentVolume": _core("persistentvolumes", namespaced=False),
    "ServiceAccount": _core("serviceaccounts"),
    "ConfigMap": _core("configmaps"),
    "Secret": _core("secrets"),
    "Service": _core("services"),
    "Endpoints": _core("endpoints"),
    "Pod": _core("pods"),
    "ReplicationController": _core("replicationcontrollers"),
    "PersistentVolumeClaim": _core("persistentvolumeclaims"),
    "LimitRange": _core("limitranges"),
    "ResourceQuota": _core("resourcequotas"),
    "ClusterRole": Kind("rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": Kind("rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": Kind("rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": Kind("rbac.authorization.k8s.io/v1", "rolebindings", True),
    "PodSecurityPolicy": Kind("policy/v1beta1", "podsecuritypolicies", False),
    "PodDisruptionBudget": Kind("policy/v1beta1", "poddisruptionbudgets", True),
    "Deployment": Kind("apps/v1", "deployments", True),
    "DaemonSet": Kind("apps/v1", "daemonsets", True),
    "StatefulSet": Kind("apps/v1", "statefulsets", True),
    "ReplicaSet": Kind("apps/v1", "replicasets", True),
    "Job": Kind("batch/v1", "jobs", True),
    "NetworkPolicy": Kind("networking.k8s.io/v1", "networkpolicies", True),
    "StorageClass": Kind("storage.k8s.io/v1", "storageclasses", False),
}


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"no API path known for kind {name!r}") from None


def group_root(api_version: str) -> str:
    """``/api/v1`` for the core group, ``/apis/<group>/<version>`` for a named one."""
    return f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"


def collection_path(kind: str, *, namespace: str | None = None,
                    api_version: str | None = None) -> str:
    """The collection of ``kind`` (in ``namespace``, ``default`` when none, if namespaced)."""
    found = kind_of(kind)
    root = group_root(api_version or found.api_version)
    if not found.namespaced:
        return f"{root}/{found.plural}"
    return f"{root}/namespaces/{namespace or DEFAULT_NAMESPACE}/{found.plural}"


def object_path(kind: str, name: str, *, namespace: str | None = None,
                api_version: str | None = None) -> str:
    return f"{collection_path(kind, namespace=namespace, api_version=api_version)}/{name}"
