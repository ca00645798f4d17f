"""The Kubernetes API client's pure parts: where each kind lives, what a replace sends, which
labels and taints Magna owns on a node, which pods a drain evicts, the admission objects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from magna.drivers.local_kubernetes import admission, eviction, kinds, kubeapi, node_profile
from magna.drivers.local_kubernetes.node_profile import MANAGED_ANNOTATION

# -- kinds -> paths --------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "namespace", "path"), [
    ("Namespace", None, "/api/v1/namespaces"),
    ("Node", "ignored", "/api/v1/nodes"),
    ("ServiceAccount", "kube-system", "/api/v1/namespaces/kube-system/serviceaccounts"),
    ("ConfigMap", None, "/api/v1/namespaces/default/configmaps"),
    ("ReplicationController", "t1", "/api/v1/namespaces/t1/replicationcontrollers"),
    ("ClusterRole", None, "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
    ("ClusterRoleBinding", None, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"),
    ("PodSecurityPolicy", None, "/apis/policy/v1beta1/podsecuritypolicies"),
    ("Deployment", "t1", "/apis/apps/v1/namespaces/t1/deployments"),
])
def test_each_kind_has_its_collection_path(kind: str, namespace: str | None, path: str) -> None:
    assert kinds.collection_path(kind, namespace=namespace) == path


def test_an_object_path_ends_with_its_name_and_a_manifest_version_wins() -> None:
    assert kinds.object_path("Service", "web", namespace="t1") == \
        "/api/v1/namespaces/t1/services/web"
    assert kinds.object_path("ClusterRole", "r", api_version="rbac.authorization.k8s.io/v1beta1") \
        == "/apis/rbac.authorization.k8s.io/v1beta1/clusterroles/r"


def test_an_unknown_kind_is_refused_not_guessed() -> None:
    with pytest.raises(kinds.UnknownKind, match="Frobnicator"):
        kinds.collection_path("Frobnicator")


# -- apply's create-or-replace ---------------------------------------------------------------


def test_a_manifest_without_api_version_gets_its_kinds_default() -> None:
    got = kubeapi.completed({"kind": "ClusterRole", "metadata": {"name": "r"}})
    assert got["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert kubeapi.completed({"apiVersion": "v1", "kind": "Pod",
                              "metadata": {"name": "p"}})["apiVersion"] == "v1"


def test_a_replacement_carries_the_current_resource_version() -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                "data": {"a": "2"}}
    current = {"metadata": {"name": "c", "resourceVersion": "41"}, "data": {"a": "1"}}
    got = kubeapi.replacement(manifest, current)
    assert got == {**manifest, "metadata": {"name": "c", "resourceVersion": "41"}}
    assert "resourceVersion" not in manifest["metadata"]


def test_a_service_replacement_keeps_the_cluster_ip_the_server_allocated() -> None:
    manifest = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": {"ports": [{"port": 80}]}}
    current = {"metadata": {"resourceVersion": "7"},
               "spec": {"clusterIP": "10.254.0.9", "clusterIPs": ["10.254.0.9"]}}
    got = kubeapi.replacement(manifest, current)
    assert got["spec"] == {"ports": [{"port": 80}], "clusterIP": "10.254.0.9",
                           "clusterIPs": ["10.254.0.9"]}
    pinned = {**manifest, "spec": {"clusterIP": "None"}}
    assert kubeapi.replacement(pinned, current)["spec"]["clusterIP"] == "None"


def test_a_service_account_replacement_keeps_its_token_reference() -> None:
    manifest = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}
    current = {"metadata": {"resourceVersion": "3"}, "secrets": [{"name": "sa-token-x1"}]}
    assert kubeapi.replacement(manifest, current)["secrets"] == [{"name": "sa-token-x1"}]
    assert "secrets" not in manifest


# -- node labels and taints ------------------------------------------------------------------


def make_node(labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None,
              managed: dict[str, Any] | None = None) -> dict[str, Any]:
    annotations = {"node.alpha.kubernetes.io/ttl": "0"}
    if managed is not None:
        annotations[MANAGED_ANNOTATION] = json.dumps(managed)
    node: dict[str, Any] = {"apiVersion": "v1", "kind": "Node",
                            "metadata": {"name": "n1", "resourceVersion": "5",
                                         "labels": labels or {}, "annotations": annotations},
                            "spec": {"podCIDR": "10.100.1.0/24"}}
    if taints:
        node["spec"]["taints"] = taints
    return node


def test_wanted_labels_and_taints_are_added_beside_others() -> None:
    node = make_node(labels={"kubernetes.io/hostname": "n1"},
                     taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])
    got = node_profile.desired(node, {"zone": "a"},
                               [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}])
    assert got.labels == {"kubernetes.io/hostname": "n1", "zone": "a"}
    assert got.taints == [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
                          {"key": "gpu", "value": "yes", "effect": "NoSchedule"}]
    assert json.loads(got.annotation) == {"labels": ["zone"],
                                          "taints": [["gpu", "NoSchedule"]]}


def test_what_magna_set_before_and_no_longer_wants_goes_and_others_stay() -> None:
    node = make_node(labels={"zone": "a", "disk": "ssd", "team": "x"},
                     taints=[{"key": "gpu", "effect": "NoSchedule"},
                             {"key": "admin", "effect": "NoExecute"}],
                     managed={"labels": ["zone", "disk"], "taints": [["gpu", "NoSchedule"]]})
    got = node_profile.desired(node, {"disk": "hdd"}, [])
    assert got.labels == {"disk": "hdd", "team": "x"}
    assert got.taints == [{"key": "admin", "effect": "NoExecute"}]
    assert json.loads(got.annotation) == {"labels": ["disk"], "taints": []}


def test_a_label_someone_else_set_becomes_magnas_when_the_nodegroup_asks_for_it() -> None:
    node = make_node(labels={"zone": "b"})
    got = node_profile.desired(node, {"zone": "a"}, [])
    assert got.labels == {"zone": "a"}
    later = node_profile.applied(node, got)
    assert node_profile.desired(later, {}, []).labels == {}


def test_an_applied_profile_is_carried_and_a_second_pass_writes_nothing() -> None:
    node = make_node(labels={"keep": "1"})
    profile = node_profile.desired(node, {"zone": "a"}, [{"key": "k", "effect": "NoExecute"}])
    assert not node_profile.carries(node, profile)
    written = node_profile.applied(node, profile)
    assert written["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"] == "0"
    assert written["spec"]["podCIDR"] == "10.100.1.0/24"
    # the server may stamp timeAdded on a NoExecute taint: still the same taint
    written["spec"]["taints"][0]["timeAdded"] = "2026-12-06T06:00:00Z"
    again = node_profile.desired(written, {"zone": "a"}, [{"key": "k", "effect": "NoExecute"}])
    assert node_profile.carries(written, again)


def test_removing_the_last_taint_drops_the_field_and_an_unreadable_note_owns_nothing() -> None:
    node = make_node(taints=[{"key": "k", "effect": "NoSchedule"}],
                     managed={"labels": [], "taints": [["k", "NoSchedule"]]})
    assert "taints" not in node_profile.applied(node, node_profile.desired(node, {}, []))["spec"]
    broken = make_node(labels={"zone": "a"})
    broken["metadata"]["annotations"][MANAGED_ANNOTATION] = "{not json"
    assert node_profile.desired(broken, {}, []).labels == {"zone": "a"}


# -- drain ------------------------------------------------------------------------------------


def make_pod(name: str, **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "t1", **metadata},
            "spec": {"nodeName": "n1"}}


def test_a_drain_evicts_all_but_mirror_and_daemonset_pods() -> None:
    pods = [make_pod("web"),
            make_pod("static", annotations={eviction.MIRROR_ANNOTATION: "abc"}),
            make_pod("agent", ownerReferences=[{"kind": "DaemonSet", "name": "a",
                                                "controller": True}]),
            make_pod("rc-pod", ownerReferences=[{"kind": "ReplicationController", "name": "r",
                                                 "controller": True}]),
            make_pod("going", deletionTimestamp="2026-12-06T06:00:00Z")]
    got = eviction.evictable(pods)
    assert [str(pod) for pod in got] == ["t1/web", "t1/rc-pod", "t1/going"]
    assert [pod.terminating for pod in got] == [False, False, True]


def test_an_eviction_names_its_pod_in_policy_v1beta1() -> None:
    assert eviction.eviction(eviction.PodRef("t1", "web", False)) == {
        "apiVersion": "policy/v1beta1", "kind": "Eviction",
        "metadata": {"name": "web", "namespace": "t1"}}


# -- admission objects -----------------------------------------------------------------------


def test_the_policy_forbids_privilege_host_namespaces_ports_and_host_paths() -> None:
    spec = admission.pod_security_policy()["spec"]
    assert spec["privileged"] is False and spec["allowPrivilegeEscalation"] is False
    assert (spec["hostNetwork"], spec["hostPID"], spec["hostIPC"]) == (False, False, False)
    assert spec["hostPorts"] == [] and spec["allowedCapabilities"] == []
    assert "hostPath" not in spec["volumes"] and "*" not in spec["volumes"]
    assert set(spec["volumes"]) == {"configMap", "secret", "emptyDir", "projected",
                                    "downwardAPI", "persistentVolumeClaim"}


def test_every_user_and_service_account_may_use_that_policy_and_no_other() -> None:
    policy, role, binding = admission.manifests()
    assert role["rules"] == [{"apiGroups": ["policy"], "resources": ["podsecuritypolicies"],
                              "verbs": ["use"], "resourceNames": [policy["metadata"]["name"]]}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert {subject["name"] for subject in binding["subjects"]} == {
        "system:authenticated", "system:serviceaccounts"}
    assert all(subject["kind"] == "Group" for subject in binding["subjects"])


def test_the_api_server_flags_turn_on_the_policy_plugin_and_forbid_privilege() -> None:
    assert "--allow-privileged=false" in admission.API_SERVER_FLAGS
    plugins = next(flag for flag in admission.API_SERVER_FLAGS
                   if flag.startswith("--enable-admission-plugins="))
    assert plugins.split("=", 1)[1].split(",") == ["NodeRestriction", "ServiceAccount",
                                                    "PodSecurityPolicy"]
