"""``/v1/pods``, ``/v1/rcs`` and ``/v1/services`` through the API, on a real API server.

The clusters are the fake driver's (an in-process conductor brings them to CREATE_COMPLETE);
their Kubernetes objects go, through the same ``objects.ThroughKubeAPI`` code the Kubernetes
driver uses, to a real etcd and kube-apiserver with the driver's admission settings and the
replication controller manager (``tests/support/kube_control_plane.py``). What the tests check
is what that API server stores and reports, read back with ``KubeAPI`` directly. No kubelet
runs: pods stay Pending unless a test writes their status as a kubelet would.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from oslo_config import cfg

from magna.api.app import create_app
from magna.cli import app as cli_app
from magna.cli.commands import kube_objects as kube_commands
from magna.drivers.base import KubePlace
from magna.drivers.fake import FakeDriver
from magna.drivers.local_kubernetes import admission, objects
from magna.drivers.local_kubernetes.kubeapi import Access, KubeAPI
from tests.conftest import make_conf
from tests.support.api import ApiClient, assert_error
from tests.support.conductor import FAST, Stack, conductor_stack, fake_template_body, wait_for
from tests.support.fake_driver import held
from tests.support.kube_control_plane import ControlPlane, kube_control_plane
from tests.support.server import free_port

pytestmark = pytest.mark.kubernetes
CONTROLLERS = ("replicationcontroller", "serviceaccount", "serviceaccount-token")
SWARM = "Cluster swarm is a swarm-mode cluster; pods, replication controllers and services " \
        "need a Kubernetes cluster."


class PlaneDriver(FakeDriver, objects.ThroughKubeAPI):
    """The fake driver, whose Kubernetes clusters' API server is the test's control plane."""

    access: Access

    def kube_api_for(self, place: KubePlace) -> KubeAPI:
        return KubeAPI(self.access)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with kube_control_plane(tmp_path_factory.mktemp("kube"), controllers=CONTROLLERS) as running:
        with running.client() as client:
            for manifest in admission.manifests():
                client.apply(manifest)
        yield running


@pytest.fixture
def kube(plane: ControlPlane) -> Iterator[KubeAPI]:
    with plane.client() as client:
        yield client


@pytest.fixture
def stack(tmp_path: Path, db_url: str, plane: ControlPlane) -> Iterator[Stack]:
    conf: cfg.ConfigOpts = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["fake"]},
                                     conductor=FAST)
    with conductor_stack(conf, tmp_path) as running:
        driver = PlaneDriver(conf)
        driver.access = plane.access
        running.services.drivers.drivers.insert(0, driver)
        yield running


def make_cluster(stack: Stack, name: str = "k8sbay", coe: str = "kubernetes",
                 api: ApiClient | None = None, wait: bool = True) -> str:
    api = api or stack.api
    template = api.post("/v1/clustertemplates", json=fake_template_body(
        name=f"{name}-template", coe=coe))
    assert template.status_code == 201, template.text
    labels = {} if wait else {"fake_hold": "busy"}
    created = api.post("/v1/clusters", json={
        "name": name, "cluster_template_id": template.json()["uuid"], "master_count": 1,
        "node_count": 1, "labels": labels})
    assert created.status_code == 202, created.text
    cluster: str = created.json()["uuid"]
    if wait:
        stack.wait_status(cluster, "CREATE_COMPLETE")
    return cluster


def fresh_namespace(kube: KubeAPI) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def pod_yaml(name: str, namespace: str, image: str = "magna/busybox:latest",
             extra: str = "") -> str:
    return (f"# {name}, as a user wrote it\n"
            f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
            f"  labels:\n    app: {name}\nspec:\n  automountServiceAccountToken: false\n"
            f"  containers:\n    - name: main\n      image: {image}\n{extra}")


def rc_json(name: str, namespace: str, replicas: int) -> str:
    template = {"metadata": {"labels": {"app": name}}, "spec": {
        "automountServiceAccountToken": False,
        "containers": [{"name": "main", "image": "magna/busybox:latest"}]}}
    return json.dumps({"apiVersion": "v1", "kind": "ReplicationController",
                       "metadata": {"name": name, "namespace": namespace},
                       "spec": {"replicas": replicas, "selector": {"app": name},
                                "template": template}}, indent=2)


def service_yaml(name: str, namespace: str, port: int = 6379) -> str:
    return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n"
            f"  namespace: {namespace}\nspec:\n  type: NodePort\n  selector:\n    app: redis\n"
            f"  ports:\n    - port: {port}\n      targetPort: {port}\n")


def at(namespace: str, cluster: str = "k8sbay") -> dict[str, str]:
    return {"bay_ident": cluster, "namespace": namespace}


def kubelet_reports_running(plane: ControlPlane, kube: KubeAPI, namespace: str, name: str
                            ) -> None:
    """Write a pod's node and status as a scheduler and kubelet would (none runs here)."""
    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-7"}}
    session = requests.Session()
    session.trust_env = False
    session.verify, session.cert = plane.access.ca_file, (plane.access.cert_file,
                                                          plane.access.key_file)
    assert session.post(plane.access.server + path + "/binding", json=binding,
                        timeout=10).ok
    pod = kube.get(path)
    status = {"phase": "Running", "podIP": "10.100.3.4",
              "conditions": [{"type": "Ready", "status": "True"}]}
    answer = session.put(plane.access.server + path + "/status",
                         json={**pod, "status": status}, timeout=10)
    assert answer.ok, answer.text


# -- the three kinds -------------------------------------------------------------------------


def test_a_pod_is_created_from_the_users_yaml_and_shown_as_the_api_server_reports_it(
        stack: Stack, plane: ControlPlane, kube: KubeAPI) -> None:
    cluster, ns = make_cluster(stack), fresh_namespace(kube)
    text = pod_yaml("redis-master", ns)
    created = stack.api.post("/v1/pods", json={"manifest": text, "bay_uuid": "k8sbay"})
    assert created.status_code == 201, created.text
    body = created.json()
    stored = kube.get(f"/api/v1/namespaces/{ns}/pods/redis-master")
    assert body["uuid"] == stored["metadata"]["uid"]
    assert (body["name"], body["namespace"], body["bay_uuid"], body["cluster_uuid"]) == \
        ("redis-master", ns, cluster, cluster)
    assert (body["status"], body["host"], body["ip"], body["ready"]) == \
        ("Pending", None, None, False)
    assert body["images"] == ["magna/busybox:latest"] and body["labels"] == {"app": "redis-master"}
    assert body["manifest"] == text
    assert stored["metadata"]["annotations"][objects.MANIFEST_ANNOTATION] == text

    kubelet_reports_running(plane, kube, ns, "redis-master")
    shown = stack.api.get("/v1/pods/redis-master", params=at(ns, cluster))
    assert shown.status_code == 200, shown.text
    assert (shown.json()["status"], shown.json()["host"], shown.json()["ip"],
            shown.json()["ready"]) == ("Running", "node-7", "10.100.3.4", True)
    self_link = shown.json()["links"][0]["href"]
    assert self_link.endswith(f"/v1/pods/redis-master?bay_ident={cluster}&namespace={ns}")

    listed = stack.api.get("/v1/pods", params={"cluster_ident": "k8sbay", "namespace": ns})
    assert [p["name"] for p in listed.json()["pods"]] == ["redis-master"]

    assert stack.api.delete("/v1/pods/redis-master", params=at(ns)).status_code == 204
    gone = kube.get(f"/api/v1/namespaces/{ns}/pods")["items"]
    assert all(p["metadata"].get("deletionTimestamp") for p in gone)


def test_an_rc_is_created_from_json_scaled_and_its_replicas_are_the_controllers(
        stack: Stack, kube: KubeAPI) -> None:
    make_cluster(stack)
    ns = fresh_namespace(kube)
    created = stack.api.post("/v1/rcs", json={"manifest": rc_json("redis", ns, 2),
                                              "cluster_uuid": "k8sbay"})
    assert created.status_code == 201, created.text
    assert (created.json()["replicas"], created.json()["selector"]) == (2, {"app": "redis"})

    def pods() -> int:
        return len(kube.get(f"/api/v1/namespaces/{ns}/pods")["items"])

    _until(lambda: pods() == 2, "the controller's two pods")
    _until(lambda: stack.api.get("/v1/rcs/redis", params=at(ns)).json()[
        "current_replicas"] == 2, "current_replicas 2 in the rc's document")
    shown = stack.api.get("/v1/rcs/redis", params=at(ns)).json()
    assert shown["ready_replicas"] == 0, "no kubelet runs: nothing is ready"

    scaled = stack.api.patch("/v1/rcs/redis", params=at(ns),
                             json=[{"op": "replace", "path": "/replicas", "value": 3}])
    assert scaled.status_code == 200, scaled.text
    assert scaled.json()["replicas"] == 3
    assert kube.get(f"/api/v1/namespaces/{ns}/replicationcontrollers/redis")["spec"][
        "replicas"] == 3
    _until(lambda: pods() == 3, "a third pod")

    replaced = stack.api.patch("/v1/rcs/redis", params=at(ns), json=[
        {"op": "replace", "path": "/manifest", "value": rc_json("redis", ns, 1)}])
    assert replaced.status_code == 200, replaced.text
    assert (replaced.json()["replicas"], replaced.json()["manifest"]) == \
        (1, rc_json("redis", ns, 1))
    listed = stack.api.get("/v1/rcs", params=at(ns)).json()["rcs"]
    assert [(rc["name"], rc["replicas"]) for rc in listed] == [("redis", 1)]

    assert stack.api.delete("/v1/rcs/redis", params=at(ns)).status_code == 204
    assert stack.api.get("/v1/rcs", params=at(ns)).json()["rcs"] == []


def test_a_service_gets_its_cluster_ip_and_node_port_and_keeps_them_when_replaced(
        stack: Stack, kube: KubeAPI) -> None:
    make_cluster(stack)
    ns = fresh_namespace(kube)
    created = stack.api.post("/v1/services", json={"manifest": service_yaml("redis", ns),
                                                   "bay_uuid": "k8sbay"})
    assert created.status_code == 201, created.text
    body = created.json()
    stored = kube.get(f"/api/v1/namespaces/{ns}/services/redis")
    assert body["ip"] == stored["spec"]["clusterIP"] and body["ip"].startswith("10.254.0.")
    assert body["type"] == "NodePort" and body["selector"] == {"app": "redis"}
    assert body["ports"] == [{"port": 6379, "targetPort": 6379, "protocol": "TCP",
                              "nodePort": stored["spec"]["ports"][0]["nodePort"]}]

    replaced = stack.api.patch("/v1/services/redis", params=at(ns), json=[
        {"op": "replace", "path": "/manifest", "value": service_yaml("redis", ns, 6380)}])
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["ip"] == body["ip"]
    assert [p["port"] for p in replaced.json()["ports"]] == [6380]
    listed = stack.api.get("/v1/services", params=at(ns)).json()["services"]
    assert [s["name"] for s in listed] == ["redis"]


# -- what is refused -------------------------------------------------------------------------


def test_bad_manifests_are_400s_and_nothing_is_created(stack: Stack, kube: KubeAPI) -> None:
    make_cluster(stack)
    ns = fresh_namespace(kube)
    cases = [
        ("/v1/pods", "kind: Pod\nmetadata: {name: [oops\n", "neither YAML nor JSON"),
        ("/v1/pods", service_yaml("s", ns), "describes a Service; this takes a Pod"),
        ("/v1/rcs", pod_yaml("p", ns), "describes a Pod; this takes a ReplicationController"),
        ("/v1/services", pod_yaml("p", ns) + "---\n" + pod_yaml("q", ns), "holds 2 documents"),
        ("/v1/pods", pod_yaml("Bad_Name", ns), 'Pod "Bad_Name" is invalid'),
    ]
    for path, text, message in cases:
        answer = stack.api.post(path, json={"manifest": text, "bay_uuid": "k8sbay"})
        assert_error(answer, 400, message)
    assert kube.get(f"/api/v1/namespaces/{ns}/pods")["items"] == []
    assert kube.get(f"/api/v1/namespaces/{ns}/services")["items"] == []


def test_a_pod_the_pod_security_policy_refuses_is_a_400_with_its_message(
        stack: Stack, kube: KubeAPI) -> None:
    make_cluster(stack)
    ns = fresh_namespace(kube)
    text = pod_yaml("root", ns, extra="  hostNetwork: true\n")
    answer = stack.api.post("/v1/pods", json={"manifest": text, "bay_uuid": "k8sbay"})
    assert_error(answer, 400, "Host network is not allowed to be used")
    assert kube.get(f"/api/v1/namespaces/{ns}/pods")["items"] == []


def test_the_request_itself_is_checked(stack: Stack, kube: KubeAPI) -> None:
    make_cluster(stack)
    ns = fresh_namespace(kube)
    text = pod_yaml("p", ns)
    assert_error(stack.api.post("/v1/pods", json={"manifest": text}), 400, "bay_uuid")
    assert_error(stack.api.post("/v1/pods", json={"manifest": text, "bay_uuid": "k8sbay",
                                                  "cluster_uuid": "other"}), 400,
                 "name different clusters")
    assert_error(stack.api.post("/v1/pods", json={"manifest": text, "bay_uuid": "k8sbay",
                                                  "replicas": 2}), 400, "replicas")
    assert_error(stack.api.get("/v1/pods"), 400, "bay_ident")
    assert_error(stack.api.get("/v1/pods", params={**at(ns), "limit": "1"}), 400,
                 "Unknown query parameter(s): limit")
    assert_error(stack.api.get("/v1/pods/p", params=at("No_Such")), 400, "Invalid namespace")
    assert_error(stack.api.patch("/v1/pods/p", params=at(ns), json=[
        {"op": "replace", "path": "/replicas", "value": 2}]), 400, "replace of /manifest")
    assert stack.api.post("/v1/pods", json={"manifest": text, "bay_uuid": "k8sbay"}
                          ).status_code == 201
    assert_error(stack.api.post("/v1/pods", json={"manifest": text, "bay_uuid": "k8sbay"}),
                 409, "already exists")
    assert_error(stack.api.patch("/v1/pods/p", params=at(ns), json=[
        {"op": "replace", "path": "/manifest", "value": pod_yaml("q", ns)}]), 400,
        "names Pod q")
    assert_error(stack.api.get("/v1/pods/missing", params=at(ns)), 404,
                 f"Pod missing in namespace {ns} could not be found")
    assert_error(stack.api.delete("/v1/rcs/missing", params=at(ns)), 404, "could not be found")
    assert_error(stack.api.get("/v1/pods", params=at(ns, "no-such-bay")), 404, "no-such-bay")


def test_swarm_unsettled_and_other_projects_clusters_are_refused(
        stack: Stack, kube: KubeAPI) -> None:
    make_cluster(stack, name="swarm", coe="swarm-mode")
    ns = fresh_namespace(kube)
    text = pod_yaml("p", ns)
    assert_error(stack.api.post("/v1/pods", json={"manifest": text, "bay_uuid": "swarm"}),
                 400, SWARM)
    assert_error(stack.api.get("/v1/services", params=at(ns, "swarm")), 400, SWARM)

    with held(str(stack.state_dir), "busy"):
        make_cluster(stack, name="young", wait=False)
        assert_error(stack.api.post("/v1/pods", json={"manifest": text, "bay_uuid": "young"}),
                     409, "Cluster young is CREATE_IN_PROGRESS")

    alice = stack.api.as_user("alice")
    mine = make_cluster(stack, name="alices", api=alice)
    bob = stack.api.as_user("bob")
    assert_error(bob.post("/v1/pods", json={"manifest": text, "bay_uuid": mine}), 404, mine)
    assert_error(bob.get("/v1/pods", params=at(ns, mine)), 404, mine)
    reader = stack.api.as_user("alice", roles="reader")
    assert reader.get("/v1/pods", params=at(ns, mine)).status_code == 200
    assert_error(reader.post("/v1/pods", json={"manifest": text, "bay_uuid": mine}), 403, "")
    assert kube.get(f"/api/v1/namespaces/{ns}/pods")["items"] == []
    assert alice.post("/v1/pods", json={"manifest": text, "bay_uuid": mine}).status_code == 201


def test_an_api_server_that_does_not_answer_is_a_503(stack: Stack, plane: ControlPlane) -> None:
    make_cluster(stack)
    driver = stack.services.drivers.drivers[0]
    assert isinstance(driver, PlaneDriver)
    driver.access = replace(plane.access, server=f"https://127.0.0.1:{free_port()}", timeout=2)
    answer = stack.api.get("/v1/pods", params=at("default"))
    assert_error(answer, 503, "The cluster's API server does not answer")


def _until(check: Any, what: str, timeout: float = 30) -> None:
    wait_for(check, timeout, what)


# -- the command line ------------------------------------------------------------------------


@contextlib.contextmanager
def served(stack: Stack) -> Iterator[str]:
    """The stack's API over real HTTP on loopback (uvicorn in a thread), for the CLI."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(stack.services.conf, stack.services),
                                           host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 20, "the API to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


@dataclass
class Ran:
    rc: int
    stdout: str
    stderr: str


def magna(url: str, ran: set[str], *args: str, rc: int = 0) -> Ran:
    ran.add(args[0])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_app.main(["--magna-url", url, *args])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    result = Ran(code, out.getvalue(), err.getvalue())
    assert "Traceback" not in result.stderr, result
    assert result.rc == rc, result
    return result


def test_the_cli_creates_lists_shows_updates_and_deletes_all_three(
        stack: Stack, plane: ControlPlane, kube: KubeAPI, tmp_path: Path) -> None:
    make_cluster(stack)
    ns = fresh_namespace(kube)
    (tmp_path / "pod.yaml").write_text(pod_yaml("redis-master", ns))
    (tmp_path / "rc.json").write_text(rc_json("redis", ns, 2))
    (tmp_path / "svc.yaml").write_text(service_yaml("redis", ns))
    (tmp_path / "svc2.yaml").write_text(service_yaml("redis", ns, 6380))
    ran: set[str] = set()
    original = cli_app.MagnaApp.poll_interval
    cli_app.MagnaApp.poll_interval = 0.2
    try:
        with served(stack) as url:
            def run(*args: str, rc: int = 0) -> Ran:
                return magna(url, ran, *args, rc=rc)

            def json_of(*args: str) -> Any:
                return json.loads(run(*args, "-f", "json").stdout)

            _cli_pods(run, json_of, plane, kube, tmp_path, ns)
            _cli_rcs(run, json_of, tmp_path, ns)
            _cli_services(run, json_of, tmp_path, ns)
    finally:
        cli_app.MagnaApp.poll_interval = original
    assert ran == set(kube_commands.commands())


def _cli_pods(run: Any, json_of: Any, plane: ControlPlane, kube: KubeAPI, tmp_path: Path,
              ns: str) -> None:
    pod = json_of("pod-create", "--manifest", str(tmp_path / "pod.yaml"), "--bay", "k8sbay")
    assert (pod["name"], pod["namespace"], pod["status"]) == ("redis-master", ns, "Pending")
    assert pod["manifest"] == (tmp_path / "pod.yaml").read_text()
    late = run("pod-create", "--manifest", str(tmp_path / "pod.yaml"), "--bay", "k8sbay", rc=1)
    assert "already exists" in late.stderr
    wrong = run("pod-create", "--manifest", str(tmp_path / "svc.yaml"), "--bay", "k8sbay", rc=1)
    assert wrong.stderr.startswith("ERROR: The manifest describes a Service; this takes a Pod.")
    missing = run("pod-create", "--manifest", str(tmp_path / "nope.yaml"), "--bay", "k8sbay",
                  rc=2)
    assert "cannot read manifest" in missing.stderr
    kubelet_reports_running(plane, kube, ns, "redis-master")
    assert run("pod-show", "redis-master", "--bay", "k8sbay", "--namespace", ns, "-f", "value",
               "-c", "status", "-c", "host").stdout == "node-7\nRunning\n"
    rows = json_of("pod-list", "--cluster", "k8sbay", "--namespace", ns)
    assert [(r["name"], r["status"], r["ready"]) for r in rows] == \
        [("redis-master", "Running", True)]
    assert run("pod-delete", "redis-master", "--bay", "k8sbay", "--namespace", ns).stdout == \
        "Request to delete redis-master has been accepted.\n"


def _cli_rcs(run: Any, json_of: Any, tmp_path: Path, ns: str) -> None:
    rc = json_of("rc-create", "--manifest", str(tmp_path / "rc.json"), "--bay", "k8sbay")
    assert (rc["replicas"], rc["selector"]) == (2, {"app": "redis"})
    waited = run("rc-create", "--manifest", str(tmp_path / "rc.json"), "--bay", "k8sbay",
                 rc=1)
    assert "already exists" in waited.stderr
    scaled = json_of("rc-update", "redis", "--bay", "k8sbay", "--namespace", ns, "replace",
                     "replicas=3")
    assert scaled["replicas"] == 3
    # No kubelet runs here: the pods stay Pending, so 3 ready replicas never come.
    slow = run("rc-update", "redis", "--bay", "k8sbay", "--namespace", ns, "--replicas", "1",
               "--wait", "--wait-timeout", "1", rc=4)
    assert slow.stderr.splitlines()[0].startswith("redis: 0/1 replicas ready")
    assert "ERROR: redis is still 0/1 replicas ready after" in slow.stderr
    none = run("rc-update", "redis", "--bay", "k8sbay", "--namespace", ns, "--replicas", "0",
               "--wait")
    assert none.stderr.splitlines()[-1].startswith("redis: 0/0 replicas ready")
    assert run("rc-update", "redis", "--bay", "k8sbay", "--namespace", ns, "replace", rc=2
               ).stderr.startswith("ERROR: Give the operation and its ATTRIBUTE=VALUE")
    assert "Give exactly one change" in run("rc-update", "redis", "--bay", "k8sbay", rc=2).stderr
    replaced = json_of("rc-update", "redis", "--bay", "k8sbay", "--namespace", ns, "replace",
                       f"manifest={tmp_path / 'rc.json'}")
    assert (replaced["replicas"], replaced["manifest"]) == (2, rc_json("redis", ns, 2))
    assert run("rc-show", "redis", "--bay", "k8sbay", "--namespace", ns, "-f", "value", "-c",
               "replicas").stdout == "2\n"
    assert [r["name"] for r in json_of("rc-list", "--bay", "k8sbay", "--namespace", ns)] == \
        ["redis"]
    run("rc-delete", "redis", "--bay", "k8sbay", "--namespace", ns)
    assert json_of("rc-list", "--bay", "k8sbay", "--namespace", ns) == []


def _cli_services(run: Any, json_of: Any, tmp_path: Path, ns: str) -> None:
    made = run("coe-service-create", "--manifest", str(tmp_path / "svc.yaml"), "--bay",
               "k8sbay", "--wait", "-f", "json")
    ip = json.loads(made.stdout)["ip"]
    assert made.stderr.splitlines()[-1].startswith(f"redis: IP {ip}")
    updated = json_of("coe-service-update", "redis", "--bay", "k8sbay", "--namespace", ns,
                      "--manifest", str(tmp_path / "svc2.yaml"))
    assert (updated["ip"], [p["port"] for p in updated["ports"]]) == (ip, [6380])
    assert run("coe-service-update", "redis", "--bay", "k8sbay", "replace", "replicas=2",
               rc=2).stderr.startswith("ERROR: Cannot replace 'replicas=2'")
    assert run("coe-service-show", "redis", "--bay", "k8sbay", "--namespace", ns, "-f",
               "value", "-c", "ip").stdout == f"{ip}\n"
    assert [r["ip"] for r in json_of("coe-service-list", "--bay", "k8sbay", "--namespace",
                                     ns)] == [ip]
    run("coe-service-delete", "redis", "--bay", "k8sbay", "--namespace", ns)
    gone = run("coe-service-show", "redis", "--bay", "k8sbay", "--namespace", ns, rc=1)
    assert gone.stderr == f"ERROR: Service redis in namespace {ns} could not be found. " \
                          "(HTTP 404)\n"
