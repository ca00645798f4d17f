"""What keeps a tenant's pods inside their node: the API server's admission settings and the
PodSecurityPolicy objects applied once it is up.

A node here is a namespace on a shared host, not a VM: a privileged pod, a pod in the host's
network, PID or IPC namespace, a host port or a hostPath volume would reach the real host
(docs/security.md). Kubernetes 1.20 refuses them with the PodSecurityPolicy admission plugin and
``--allow-privileged=false`` (``API_SERVER_FLAGS``, for the driver's kube-apiserver command).

With that plugin on, a pod is admitted only if a policy allows it AND the pod's service account
or the user creating it may ``use`` that policy; with no policy usable every pod is refused. Pods
of ReplicationControllers, Deployments and DaemonSets are created by controllers whose service
accounts are in ``system:serviceaccounts:kube-system``, and a tenant's own pods run under the
service accounts of their namespaces: so the binding names the groups ``system:authenticated``
(every user and controller) and ``system:serviceaccounts`` (every pod's service account). The
only policy anyone may use is ``magna-restricted``; nobody gets a broader one.

``runAsUser: RunAsAny`` is deliberate: a container's root is remapped by the node's engine to an
unprivileged host id (user namespaces per cluster, ``local_nodes/engine.py``).
"""

from __future__ import annotations

from typing import Any

POLICY = "magna-restricted"
ROLE = "magna:psp:restricted"
BINDING = "magna:psp:restricted"
ADMISSION_PLUGINS = ("NodeRestriction", "ServiceAccount", "PodSecurityPolicy")
API_SERVER_FLAGS = (f"--enable-admission-plugins={','.join(ADMISSION_PLUGINS)}",
                    "--allow-privileged=false")
VOLUMES = ("configMap", "secret", "emptyDir", "projected", "downwardAPI",
           "persistentVolumeClaim")
GROUPS = ("system:authenticated", "system:serviceaccounts")
_LABELS = {"app.kubernetes.io/managed-by": "magna"}


def pod_security_policy() -> dict[str, Any]:
    """No privilege, no host namespaces or ports, no hostPath, default capabilities only."""
    any_rule = {"rule": "RunAsAny"}
    return {
        "apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy",
        "metadata": {"name": POLICY, "labels": dict(_LABELS)},
        "spec": {
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "defaultAllowPrivilegeEscalation": False,
            "hostNetwork": False, "hostPID": False, "hostIPC": False,
            "hostPorts": [],
            "volumes": list(VOLUMES),
            "allowedHostPaths": [],
            "allowedCapabilities": [],
            "defaultAddCapabilities": [],
            "runAsUser": dict(any_rule),
            "seLinux": dict(any_rule),
            "supplementalGroups": dict(any_rule),
            "fsGroup": dict(any_rule),
        },
    }


def cluster_role() -> dict[str, Any]:
    """Permission to ``use`` the restricted policy, and no other."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": ROLE, "labels": dict(_LABELS)},
        "rules": [{"apiGroups": ["policy"], "resources": ["podsecuritypolicies"],
                   "verbs": ["use"], "resourceNames": [POLICY]}],
    }


def cluster_role_binding() -> dict[str, Any]:
    """Every authenticated user and every service account may use it (module docstring)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": BINDING, "labels": dict(_LABELS)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": ROLE},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
                     for group in GROUPS],
    }


def manifests() -> list[dict[str, Any]]:
    """In the order to apply: the policy, who may use it, the binding."""
    return [pod_security_policy(), cluster_role(), cluster_role_binding()]
