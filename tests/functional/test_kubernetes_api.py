"""The Kubernetes API client and the admission objects against a real etcd and kube-apiserver
1.20.2 (``tests/support/kube_control_plane.py``): what the driver will do to a cluster's API
server, checked by reading the objects back.

A controller-manager runs only the controllers that create a replication controller's pods (and
service accounts), so the admission tests see pods created the way tenants' workloads are. There
are no kubelets: pods stay Pending, and a pod bound to a node by hand is deleted
only once it finished (the API server waits for a kubelet otherwise), which the drain tests use.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from magna.drivers.local_kubernetes import admission
from magna.drivers.local_kubernetes.kubeapi import (
    Access,
    DrainTimedOut,
    KubeAPI,
    KubeAPIError,
    KubeUnreachable,
)
from magna.drivers.local_kubernetes.node_profile import MANAGED_ANNOTATION
from tests.support.kube_control_plane import ControlPlane, kube_control_plane
from tests.support.server import free_port

pytestmark = pytest.mark.kubernetes
# NOTE: the controllers that create pods for a replication controller, and not the node
# lifecycle or garbage collector, which would act on the hand-made nodes and pods below.
CONTROLLERS = ("replicationcontroller", "serviceaccount", "serviceaccount-token")
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with kube_control_plane(tmp_path_factory.mktemp("kube"), controllers=CONTROLLERS) as running:
        yield running


@pytest.fixture()
def api(plane: ControlPlane) -> Iterator[KubeAPI]:
    with plane.client() as client:
        yield client


@pytest.fixture(scope="module")
def admitted(plane: ControlPlane) -> None:
    """The admission objects are in place (pods are refused until a policy allows them)."""
    with plane.client() as client:
        for manifest in admission.manifests():
            client.apply(manifest)


def namespace(api: KubeAPI) -> str:
    """A fresh namespace with a ``default`` service account (no controller-manager runs to
    make one)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    api.apply({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "default", "namespace": name}})
    return name


def make_pod(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    container = {"name": "main", "image": "busybox", "imagePullPolicy": "Never",
                 "command": ["sleep", "3600"], **spec.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"automountServiceAccountToken": False, "containers": [container], **spec}}


def make_node(name: str, **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, **metadata}}


# -- reaching the API server ------------------------------------------------------------------


def test_the_api_server_is_healthy_and_runs_1_20_2(api: KubeAPI) -> None:
    assert api.healthy() is True
    assert api.version() == "v1.20.2"


def test_the_environments_ca_bundle_and_proxies_are_not_used(
        plane: ControlPlane, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    with plane.client() as client:
        assert client.version() == "v1.20.2"


def test_an_api_server_that_does_not_answer_is_unreachable_never_a_raw_error(
        tmp_path: Path) -> None:
    access = Access(server=f"https://127.0.0.1:{free_port()}", ca_file=str(tmp_path / "no-ca"),
                    cert_file=str(tmp_path / "no-cert"), key_file=str(tmp_path / "no-key"),
                    timeout=2.0)
    with KubeAPI(access) as client:
        assert client.healthy() is False
        with pytest.raises(KubeUnreachable):
            client.version()
        with pytest.raises(KubeUnreachable):
            client.apply(make_node("n"))


def test_a_client_trusting_another_ca_is_unreachable(plane: ControlPlane, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_text((plane.directory / "admin-cert.pem").read_text())
    with KubeAPI(dataclasses.replace(plane.access, ca_file=str(other))) as client:
        assert client.healthy() is False
        with pytest.raises(KubeUnreachable, match=r"SSL|certificate"):
            client.nodes()


# -- apply and delete -------------------------------------------------------------------------


def test_apply_creates_then_replaces_and_a_second_apply_changes_nothing(api: KubeAPI) -> None:
    ns = namespace(api)
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "settings", "namespace": ns}, "data": {"size": "1"}}
    created = api.apply(config)
    replaced = api.apply({**config, "data": {"size": "2"}})
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/settings")["data"] == {"size": "2"}
    again = api.apply({**config, "data": {"size": "2"}})
    assert again["metadata"]["resourceVersion"] == replaced["metadata"]["resourceVersion"]


def test_a_service_is_replaced_keeping_its_cluster_ip(api: KubeAPI) -> None:
    ns = namespace(api)
    def service(port: int) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": ns},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": port}]}}

    first = api.apply(service(80))
    second = api.apply(service(8080))
    assert second["spec"]["clusterIP"] == first["spec"]["clusterIP"]
    assert [port["port"] for port in second["spec"]["ports"]] == [8080]


def test_a_service_account_applied_again_keeps_its_token(api: KubeAPI) -> None:
    ns = namespace(api)
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "robot", "namespace": ns}}
    api.apply(account)
    path = f"/api/v1/namespaces/{ns}/serviceaccounts/robot"
    tokens = eventually(lambda: api.get(path).get("secrets"), "the token controller's secret")
    api.apply(account)
    assert api.get(path)["secrets"] == tokens
    secrets = api.get(f"/api/v1/namespaces/{ns}/secrets")["items"]
    assert len([s for s in secrets if s["metadata"]["name"].startswith("robot-token-")]) == 1


def test_named_group_kinds_apply_twice(api: KubeAPI) -> None:
    for manifest in admission.manifests():
        assert api.apply(manifest)["metadata"]["name"] == manifest["metadata"]["name"]
        assert api.apply(manifest)["kind"] == manifest["kind"]
    policy = api.get("/apis/policy/v1beta1/podsecuritypolicies/magna-restricted")
    assert policy["spec"]["allowPrivilegeEscalation"] is False
    assert policy["spec"]["volumes"] == list(admission.VOLUMES)


def test_delete_removes_and_a_missing_object_is_fine(api: KubeAPI) -> None:
    ns = namespace(api)
    api.apply({"kind": "ConfigMap", "metadata": {"name": "gone", "namespace": ns}})
    assert api.delete("ConfigMap", "gone", ns) is True
    with pytest.raises(KubeAPIError) as raised:
        api.get(f"/api/v1/namespaces/{ns}/configmaps/gone")
    assert raised.value.status == 404
    assert raised.value.message == 'configmaps "gone" not found'
    assert api.delete("ConfigMap", "gone", ns) is False


def test_an_invalid_object_is_the_api_servers_message(api: KubeAPI) -> None:
    with pytest.raises(KubeAPIError) as raised:
        api.apply({"kind": "ConfigMap", "metadata": {"name": "Not_A_Name",
                                                     "namespace": "default"}})
    assert raised.value.status == 422
    assert 'ConfigMap "Not_A_Name" is invalid' in raised.value.message


# -- nodes ------------------------------------------------------------------------------------


def test_a_registered_node_shows_up_and_delete_node_removes_it(api: KubeAPI) -> None:
    names = {node["metadata"]["name"] for node in api.nodes()}
    name = f"n-{uuid.uuid4().hex[:6]}"
    assert name not in names
    api.apply(make_node(name))
    assert {node["metadata"]["name"] for node in api.nodes()} == names | {name}
    assert api.delete_node(name) is True
    assert {node["metadata"]["name"] for node in api.nodes()} == names


def test_a_new_control_plane_lists_no_nodes(tmp_path: Path) -> None:
    with kube_control_plane(tmp_path / "fresh") as fresh, fresh.client() as client:
        assert client.nodes() == []


def test_node_profile_sets_and_removes_only_what_magna_set(api: KubeAPI) -> None:
    name = f"n-{uuid.uuid4().hex[:6]}"
    api.apply({**make_node(name, labels={"team": "ops"}),
               "spec": {"taints": [{"key": "admin", "effect": "NoSchedule"}]}})
    assert api.set_node_profile(name, {"zone": "a", "disk": "ssd"},
                                [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}])
    node = api.get(f"/api/v1/nodes/{name}")
    assert {k: v for k, v in node["metadata"]["labels"].items()
            if k in ("team", "zone", "disk")} == {"team": "ops", "zone": "a", "disk": "ssd"}
    # the API server itself taints a new node not-ready: another taint Magna must keep
    assert node["spec"]["taints"] == [{"key": "admin", "effect": "NoSchedule"}, NOT_READY,
                                      {"key": "gpu", "value": "yes", "effect": "NoSchedule"}]
    assert MANAGED_ANNOTATION in node["metadata"]["annotations"]
    assert api.set_node_profile(name, {"zone": "b"}, []) is True
    node = api.get(f"/api/v1/nodes/{name}")
    assert "disk" not in node["metadata"]["labels"]
    assert node["metadata"]["labels"]["zone"] == "b"
    assert node["metadata"]["labels"]["team"] == "ops"
    assert node["spec"]["taints"] == [{"key": "admin", "effect": "NoSchedule"}, NOT_READY]
    assert api.set_node_profile(name, {"zone": "b"}, []) is False


def test_cordon_makes_a_node_unschedulable(api: KubeAPI) -> None:
    name = f"n-{uuid.uuid4().hex[:6]}"
    api.apply(make_node(name))
    api.cordon(name)
    assert api.get(f"/api/v1/nodes/{name}")["spec"]["unschedulable"] is True


def test_cordon_of_a_missing_node_is_a_404(api: KubeAPI) -> None:
    with pytest.raises(KubeAPIError) as raised:
        api.cordon("no-such-node")
    assert raised.value.status == 404


# -- drain ------------------------------------------------------------------------------------


def _finish(plane: ControlPlane, pod: dict[str, Any]) -> None:
    """Mark a pod Succeeded, as its kubelet would (none runs here)."""
    path = f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/" \
           f"{pod['metadata']['name']}/status"
    response = requests.put(plane.access.server + path, timeout=10, verify=plane.access.ca_file,
                            cert=(plane.access.cert_file, plane.access.key_file),
                            json={**pod, "status": {"phase": "Succeeded"}})
    assert response.ok, response.text


@pytest.mark.usefixtures("admitted")
def test_drain_evicts_the_pods_but_leaves_daemonset_pods(plane: ControlPlane,
                                                         api: KubeAPI) -> None:
    ns, node = namespace(api), f"n-{uuid.uuid4().hex[:6]}"
    api.apply(make_node(node))
    api.apply(make_pod("done", ns, nodeName=node))
    _finish(plane, api.get(f"/api/v1/namespaces/{ns}/pods/done"))
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
             "uid": str(uuid.uuid4()), "controller": True}
    api.apply({**make_pod("agent", ns, nodeName=node),
               "metadata": {"name": "agent", "namespace": ns, "ownerReferences": [owner]}})
    api.drain(node, timeout=30)
    left = api.get(f"/api/v1/namespaces/{ns}/pods")["items"]
    assert [pod["metadata"]["name"] for pod in left] == ["agent"]
    assert api.get(f"/api/v1/nodes/{node}")["spec"]["unschedulable"] is True


@pytest.mark.usefixtures("admitted")
def test_a_drain_that_cannot_finish_says_which_pods_remain(api: KubeAPI) -> None:
    ns, node = namespace(api), f"n-{uuid.uuid4().hex[:6]}"
    api.apply(make_node(node))
    api.apply(make_pod("stuck", ns, nodeName=node))  # no kubelet confirms its end
    with pytest.raises(DrainTimedOut) as raised:
        api.drain(node, timeout=2)
    assert [str(pod) for pod in raised.value.pods] == [f"{ns}/stuck"]
    assert f"{ns}/stuck" in str(raised.value)
    pod = api.get(f"/api/v1/namespaces/{ns}/pods/stuck")
    assert pod["metadata"]["deletionTimestamp"]  # it was evicted, and is terminating


# -- admission --------------------------------------------------------------------------------


@pytest.fixture()
def tenant(plane: ControlPlane, api: KubeAPI) -> Iterator[tuple[KubeAPI, str]]:
    """A user who may manage pods in one namespace, and nothing about pod security policies
    (a Role of its own: the aggregated ``edit`` role is filled by the controller-manager)."""
    ns = namespace(api)
    api.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "pods", "namespace": ns},
               "rules": [{"apiGroups": [""], "resources": ["pods"],
                          "verbs": ["create", "get", "list", "delete"]}]})
    api.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "tenant-pods", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "pods"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                             "name": "tenant"}]})
    with KubeAPI(plane.user("tenant", "tenants")) as client:
        yield client, ns


@pytest.mark.usefixtures("admitted")
@pytest.mark.parametrize(("what", "spec", "said"), [
    ("privileged", {"container": {"securityContext": {"privileged": True}}},
     "Privileged containers are not allowed"),
    ("hostPath", {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
     "hostPath volumes are not allowed to be used"),
    ("hostNetwork", {"hostNetwork": True}, "Host network is not allowed to be used"),
    ("hostPID", {"hostPID": True}, "Host PID is not allowed to be used"),
    ("hostIPC", {"hostIPC": True}, "Host IPC is not allowed to be used"),
    ("hostPort", {"container": {"ports": [{"containerPort": 80, "hostPort": 80}]}},
     "Host port 80 is not allowed to be used"),
    ("capability", {"container": {"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}},
     "capability may not be added"),
    ("escalation", {"container": {"securityContext": {"allowPrivilegeEscalation": True}}},
     "Allowing privilege escalation for containers is not allowed"),
])
def test_pods_that_reach_the_host_are_refused(tenant: tuple[KubeAPI, str], api: KubeAPI,
                                              what: str, spec: dict[str, Any],
                                              said: str) -> None:
    client, ns = tenant
    for creator in (client, api):  # the tenant, and the cluster's admin as well
        with pytest.raises(KubeAPIError) as raised:
            creator.apply(make_pod(what.lower(), ns, **spec))
        assert raised.value.status == 403, what
        assert "PodSecurityPolicy: unable to admit pod" in raised.value.message
        assert said in raised.value.message


@pytest.mark.usefixtures("admitted")
def test_a_plain_pod_is_admitted_and_stays_pending(tenant: tuple[KubeAPI, str]) -> None:
    client, ns = tenant
    created = client.apply(make_pod("plain", ns))
    assert created["metadata"]["annotations"]["kubernetes.io/psp"] == admission.POLICY
    assert created["spec"]["containers"][0]["securityContext"][
        "allowPrivilegeEscalation"] is False
    assert client.get(f"/api/v1/namespaces/{ns}/pods/plain")["status"]["phase"] == "Pending"


def eventually(look: Callable[[], Any], what: str, wait: float = 60.0) -> Any:
    """``look()`` once it answers something true (controllers act in their own time)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if seen := look():
            return seen
        time.sleep(0.5)
    pytest.fail(f"not seen within {wait:.0f} s: {what}")


def make_rc(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    template = make_pod(name, ns, **spec)
    return {"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 2, "selector": {"app": name},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": template["spec"]}}}


@pytest.mark.usefixtures("admitted")
def test_pods_a_replication_controller_creates_are_admitted(api: KubeAPI) -> None:
    ns = namespace(api)
    api.apply(make_rc("web", ns))

    def both() -> list[dict[str, Any]]:
        found = api.get(f"/api/v1/namespaces/{ns}/pods",
                        params={"labelSelector": "app=web"})["items"]
        return list(found) if len(found) == 2 else []

    pods = eventually(both, "two pods of the replication controller")
    assert [pod["metadata"]["annotations"]["kubernetes.io/psp"] for pod in pods] == \
        [admission.POLICY] * 2


@pytest.mark.usefixtures("admitted")
def test_a_replication_controller_cannot_create_host_path_pods(api: KubeAPI) -> None:
    ns = namespace(api)
    api.apply(make_rc("root", ns, volumes=[{"name": "root", "hostPath": {"path": "/"}}]))

    def failure() -> dict[str, Any] | None:
        status = api.get(f"/api/v1/namespaces/{ns}/replicationcontrollers/root")["status"]
        return next((condition for condition in status.get("conditions") or []
                     if condition["type"] == "ReplicaFailure"), None)

    condition = eventually(failure, "the replication controller's ReplicaFailure condition")
    assert condition["reason"] == "FailedCreate"
    assert "hostPath volumes are not allowed to be used" in condition["message"]
    assert api.get(f"/api/v1/namespaces/{ns}/pods")["items"] == []


def test_a_privileged_pod_template_is_refused_by_the_cluster_policy(api: KubeAPI) -> None:
    ns = namespace(api)
    with pytest.raises(KubeAPIError) as raised:
        api.apply(make_rc("root", ns, container={"securityContext": {"privileged": True}}))
    assert raised.value.status == 422
    assert "privileged: Forbidden: disallowed by cluster policy" in raised.value.message
