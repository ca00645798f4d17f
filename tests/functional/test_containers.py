"""``/v1/containers`` through the API and an in-process conductor on the fake driver.

The fake driver's "engine" keeps each container as a file (``magna.drivers.fake_containers``),
so these tests check the whole path: intent stored, conductor carries it out, status follows
what the engine reports. Real engines are in ``test_containers_local.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import api_with_policy_file, make_conf
from tests.support.api import ApiClient, assert_error
from tests.support.conductor import FAST, Stack, conductor_stack, fake_template_body, wait_for
from tests.support.containers import act, wait_container
from tests.support.fake_driver import held

BUSY = "busy"  # the fake_hold gate of a cluster made with wait=False


@pytest.fixture
def stack(tmp_path: Path, db_url: str) -> Iterator[Stack]:
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["fake"]}, conductor=FAST)
    with conductor_stack(conf, tmp_path) as running:
        yield running


def make_cluster(stack: Stack, api: ApiClient | None = None, wait: bool = True,
                 **template: Any) -> dict[str, Any]:
    api = api or stack.api
    created = api.post("/v1/clustertemplates", json=fake_template_body(
        name=f"t-{os.urandom(3).hex()}", **template))
    assert created.status_code == 201, created.text
    # NOTE: without wait the cluster's create is held (inside ``held(..., BUSY)``) so that it
    # is certainly not complete yet.
    labels = {"fake_hold": BUSY} if not wait else {}
    response = api.post("/v1/clusters", json={
        "name": f"c-{os.urandom(3).hex()}", "cluster_template_id": created.json()["uuid"],
        "master_count": 1, "node_count": 2, "labels": labels})
    assert response.status_code == 202, response.text
    uuid = response.json()["uuid"]
    return stack.wait_status(uuid, "CREATE_COMPLETE") if wait else {"uuid": uuid}


def make_container(api: ApiClient, cluster: str, **overrides: Any) -> dict[str, Any]:
    body = {"name": "web", "image": "magna/busybox:latest", "cluster": cluster,
            "command": ["sleep", "3600"], "environment": {"GREETING": "hi"}, "memory": 64,
            **overrides}
    response = api.post("/v1/containers", json=body)
    assert response.status_code == 202, response.text
    found: dict[str, Any] = response.json()
    return found


def test_lifecycle_through_the_conductor(stack: Stack) -> None:
    cluster = make_cluster(stack)
    created = make_container(stack.api, cluster["name"])
    assert created["status"] == "Creating" and created["desired_state"] == "running"
    assert created["cluster_uuid"] == cluster["uuid"] and created["memory"] == 64
    running = wait_container(stack.api, "web", "Running")
    assert running["host"] in cluster["master_addresses"] + cluster["node_addresses"]
    assert running["container_id"] and running["exit_code"] is None
    listed = stack.api.get(f"/v1/containers?cluster={cluster['uuid']}").json()["containers"]
    assert [c["uuid"] for c in listed] == [created["uuid"]]

    act(stack.api, "web", "pause")
    wait_container(stack.api, "web", "Paused")
    assert_error(stack.api.post("/v1/containers/web/start"), 409, "unpause")
    act(stack.api, "web", "unpause")
    wait_container(stack.api, "web", "Running")
    act(stack.api, "web", "stop")
    stopped = wait_container(stack.api, "web", "Stopped")
    assert stopped["exit_code"] == 137 and stopped["desired_state"] == "stopped"
    assert_error(stack.api.post("/v1/containers/web/exec", json={"command": "echo hi"}), 409,
                 "not running")
    act(stack.api, "web", "start")
    wait_container(stack.api, "web", "Running")
    # Started at create and by start; an unpause goes on with the same process.
    assert stack.api.get("/v1/containers/web/logs").json()["logs"].count("started") == 2
    act(stack.api, "web", "reboot")
    wait_for(lambda: stack.api.get("/v1/containers/web/logs").json()["logs"].count("started")
             == 3, 20, "the reboot to start the container a third time")

    executed = stack.api.post("/v1/containers/web/exec", json={"command": ["echo", "a b"]})
    assert executed.status_code == 200, executed.text
    assert executed.json() == {"output": "a b\n", "exit_code": 0}
    assert stack.api.post("/v1/containers/web/exec",
                          json={"command": "false"}).json()["exit_code"] == 1
    logs = stack.api.get("/v1/containers/web/logs?tail=1").json()["logs"]
    assert logs == "exec false\n"

    assert stack.api.delete("/v1/containers/web").status_code == 204
    after = stack.api.get("/v1/containers/web")
    assert after.status_code == 404 or after.json()["status"] == "Deleting", after.text
    wait_for(lambda: stack.api.get("/v1/containers/web").status_code == 404, 20,
             "the container to go")
    assert not os.listdir(stack.state_dir / "fake-driver" / cluster["uuid"] / "containers")


def test_exit_and_missing_image_are_truthful(stack: Stack) -> None:
    cluster = make_cluster(stack)
    make_container(stack.api, cluster["uuid"], name="quick", command="exit 3")
    quick = wait_container(stack.api, "quick", "Stopped")
    assert quick["exit_code"] == 3 and quick["desired_state"] == "running"
    make_container(stack.api, cluster["uuid"], name="nope", image="missing/image:1")
    nope = wait_container(stack.api, "nope", "Error")
    assert "No such image: missing/image:1" in nope["status_reason"]
    assert nope["container_id"] is None
    assert_error(stack.api.post("/v1/containers/nope/exec", json={"command": "ls"}), 409,
                 "not on an engine")


def test_placement_spreads_containers(stack: Stack) -> None:
    cluster = make_cluster(stack)
    for index in range(3):
        make_container(stack.api, cluster["uuid"], name=f"c{index}")
    hosts = {wait_container(stack.api, f"c{index}", "Running")["host"] for index in range(3)}
    assert len(hosts) == 3


def test_cluster_must_be_complete_and_swarm_mode(stack: Stack) -> None:
    with held(str(stack.state_dir), BUSY):
        busy = make_cluster(stack, wait=False)
        assert_error(stack.api.post("/v1/containers", json={
            "image": "busybox", "cluster": busy["uuid"], "command": "true"}), 409, "*_COMPLETE")
    kube = make_cluster(stack, coe="kubernetes")
    assert_error(stack.api.post("/v1/containers", json={
        "image": "busybox", "cluster": kube["uuid"], "command": "true"}), 400,
        "swarm-mode clusters only")


def test_deleting_the_cluster_takes_its_containers(stack: Stack) -> None:
    cluster = make_cluster(stack)
    container = make_container(stack.api, cluster["uuid"])
    wait_container(stack.api, container["uuid"], "Running")
    assert stack.api.delete(f"/v1/clusters/{cluster['uuid']}").status_code == 204
    # NOTE: the fake driver may finish the delete before this request: a cluster being
    # deleted refuses new containers (409), one already gone is not found (404).
    refused = stack.api.post("/v1/containers", json={
        "image": "busybox", "cluster": cluster["uuid"], "command": "true"})
    assert refused.status_code in (404, 409), refused.text
    stack.wait_gone(cluster["uuid"])
    assert_error(stack.api.get(f"/v1/containers/{container['uuid']}"), 404, "could not be found")
    assert stack.api.get("/v1/containers").json()["containers"] == []
    assert not (stack.state_dir / "fake-driver" / cluster["uuid"]).exists()


@pytest.mark.parametrize(("body", "message"), [
    ({"image": "busybox"}, "cluster. Value: 'None'. Mandatory field missing."),
    ({"cluster": "c"}, "image. Value: 'None'. Mandatory field missing."),
    ({"image": "busybox", "cluster": "c", "size": 1}, "Unknown attribute for argument "
                                                       "container: size"),
    ({"image": "bad image", "cluster": "c"}, "image"),
    ({"image": "bad\u0085image", "cluster": "c"}, "image"),  # whitespace to Python, not ECMA
    ({"image": "busybox", "cluster": "c", "memory": 2}, "memory"),
    ({"image": "busybox", "cluster": "c", "memory": "64"}, "memory"),
    ({"image": "busybox", "cluster": "c", "environment": {"A=B": "x"}}, "environment"),
    ({"image": "busybox", "cluster": "c", "environment": ["A=B"]}, "environment"),
    ({"image": "busybox", "cluster": "c", "command": ""}, "the command is empty"),
    ({"image": "busybox", "cluster": "c", "command": "sh -c 'x"}, "cannot split"),
    ({"image": "busybox", "cluster": "c", "command": [1]}, "command"),
    ({"image": "busybox", "cluster": "c", "name": "-x"}, "name"),
    ([], "Value should be a JSON object."),
])
def test_bad_input_is_a_clear_400(stack: Stack, body: Any, message: str) -> None:
    assert_error(stack.api.post("/v1/containers", json=body), 400, message)


def test_bad_requests_on_a_container(stack: Stack) -> None:
    cluster = make_cluster(stack)
    make_container(stack.api, cluster["uuid"], environment={"FAKE_HOLD": "web"})
    wait_container(stack.api, "web", "Running")
    assert_error(stack.api.post("/v1/containers", content=b"{", headers={
        "Content-Type": "application/json"}), 400, "Malformed JSON")
    assert_error(stack.api.post("/v1/containers", json={
        "image": "busybox", "cluster": "nowhere"}), 404, "Cluster nowhere could not be found.")
    assert_error(stack.api.post("/v1/containers/web/explode"), 400, "Unknown container action")
    assert_error(stack.api.post("/v1/containers/web/stop", json={"force": True}), 400,
                 "Unknown attribute")
    assert_error(stack.api.post("/v1/containers/web/exec", json={}), 400, "command")
    assert_error(stack.api.post("/v1/containers/web/exec", json={"command": []}), 400,
                 "the command is empty")
    assert_error(stack.api.get("/v1/containers/web/logs?tail=-1"), 400, "tail")
    assert_error(stack.api.get("/v1/containers?cluster=nowhere"), 404, "could not be found")
    assert_error(stack.api.get("/v1/containers?sort_key=environment"), 400, "sort_key")
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/stop"), ("GET", "/logs")):
        assert_error(stack.api.request(method, f"/v1/containers/ghost{path}"), 404,
                     "Container ghost could not be found.")
    assert_error(stack.api.post("/v1/containers/web/unpause"), 409, "not paused")
    # The engine's removal is held, so the container is certainly still being deleted.
    with held(str(stack.state_dir), "web"):
        assert stack.api.delete("/v1/containers/web").status_code == 204
        assert_error(stack.api.post("/v1/containers/web/start"), 409, "being deleted")


def test_tenancy_and_roles(stack: Stack) -> None:
    p1 = stack.api.as_user("p1")
    cluster = make_cluster(stack, api=p1)
    mine = make_container(p1, cluster["uuid"])
    assert mine["project_id"] == "p1"
    wait_container(p1, mine["uuid"], "Running")
    other = stack.api.as_user("p2")
    assert_error(other.post("/v1/containers", json={
        "image": "busybox", "cluster": cluster["uuid"]}), 404, "could not be found")
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/stop"), ("GET", "/logs")):
        assert_error(other.request(method, f"/v1/containers/{mine['uuid']}{path}"), 404)
    assert_error(other.post(f"/v1/containers/{mine['uuid']}/exec", json={"command": "ls"}), 404)
    assert other.get("/v1/containers").json()["containers"] == []
    assert [c["uuid"] for c in stack.api.get("/v1/containers").json()["containers"]] == [
        mine["uuid"]]
    reader = stack.api.as_user("p1", roles="reader", user="someone")
    assert reader.get(f"/v1/containers/{mine['uuid']}").status_code == 200
    assert reader.get(f"/v1/containers/{mine['uuid']}/logs").status_code == 200
    assert_error(reader.post(f"/v1/containers/{mine['uuid']}/stop"), 403, "container:stop")
    assert_error(reader.post(f"/v1/containers/{mine['uuid']}/exec", json={"command": "ls"}),
                 403, "container:execute")
    assert_error(reader.post("/v1/containers", json={
        "image": "busybox", "cluster": cluster["uuid"]}), 403, "container:create")
    assert_error(reader.delete(f"/v1/containers/{mine['uuid']}"), 403, "container:delete")


def test_policy_file_can_forbid_containers(tmp_path: Path, db_url: str) -> None:
    with api_with_policy_file(tmp_path, db_url, '"container:get_all": "!"\n') as api:
        assert_error(api.get("/v1/containers"), 403, "container:get_all")
        assert_error(api.get("/v1/containers/anything"), 404)


def test_discovery_names_containers(stack: Stack) -> None:
    body = stack.api.get("/v1").json()
    assert body["containers"][0]["href"].endswith("/v1/containers/")
