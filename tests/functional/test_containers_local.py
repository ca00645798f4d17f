"""Containers on a real local Swarm cluster, through the API and an in-process conductor.

Each step is checked against the engine itself (``docker inspect`` through the SDK, with a user
certificate signed through ``POST /v1/certificates``), not against what Magna says. The image is
built here from the host's static busybox and imported into each node's engine: nothing is ever
pulled.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from magna.drivers.local_nodes import pki
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.api import assert_error
from tests.support.conductor import FAST, Stack, conductor_stack, wait_for
from tests.support.containers import act, wait_container
from tests.support.databases import SQLITE_ONLY
from tests.support.local_containers import IMAGE, SLEEPER, ApiSigner, busybox_tar, engine
from tests.support.local_swarm import assert_nothing_left, deleted_after

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None
                       or not os.path.exists("/bin/busybox"),
                       reason="needs root, docker.io and busybox-static"),
]


def inspect(files: pki.CertFiles, body: dict[str, Any]) -> dict[str, Any]:
    with engine(files, body["host"]) as client:
        attrs: dict[str, Any] = client.api.inspect_container(body["container_id"])
        return attrs


@pytest.fixture
def stack(tmp_path: Path, db_url: str) -> Iterator[Stack]:
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["local-swarm"]},
                     conductor=FAST)
    with conductor_stack(conf, tmp_path) as running:
        yield running


def build_cluster(stack: Stack, tmp_path: Path) -> tuple[dict[str, Any], pki.CertFiles]:
    template = stack.api.post("/v1/clustertemplates", json={
        "name": "swarm", "coe": "swarm-mode", "image_id": "debian-12-docker",
        "external_network_id": "public", "flavor_id": "m1.small",
        "master_flavor_id": "m1.small"})
    assert template.status_code == 201, template.text
    created = stack.api.post("/v1/clusters", json={
        "name": "boxes", "cluster_template_id": template.json()["uuid"], "master_count": 1,
        "node_count": 1})
    assert created.status_code == 202, created.text
    body = stack.wait_status(created.json()["uuid"], "CREATE_COMPLETE", timeout=240)
    files = pki.CertFiles(str(tmp_path / "user"), "")
    pki.ensure(files, pki.CertRequest("tester", None, client=True),
               ApiSigner(stack, body["uuid"]))
    image = busybox_tar()
    for address in body["master_addresses"] + body["node_addresses"]:
        with engine(files, address) as client:
            client.api.import_image_from_data(image, repository=IMAGE.split(":")[0],
                                              tag="latest")
    return body, files


@SQLITE_ONLY
def test_containers_on_a_real_cluster(stack: Stack, tmp_path: Path) -> None:
    driver = LocalSwarmDriver(stack.services.conf)
    cluster_uuid = ""
    try:
        started = time.monotonic()
        cluster, files = build_cluster(stack, tmp_path)
        cluster_uuid = cluster["uuid"]
        print(f"\ncluster 1+1 with the test image: {time.monotonic() - started:.1f}s")
        _lifecycle(stack, files, cluster)
        _truthful_failures(stack, files, cluster)
        kept = wait_container(stack.api, "box", "Running")
        started = time.monotonic()
        assert stack.api.delete(f"/v1/clusters/{cluster_uuid}").status_code == 204
        stack.wait_gone(cluster_uuid, timeout=120)
        print(f"cluster delete with containers: {time.monotonic() - started:.1f}s")
        assert_error(stack.api.get(f"/v1/containers/{kept['uuid']}"), 404)
        assert stack.api.get("/v1/containers").json()["containers"] == []
        assert_nothing_left(driver, cluster_uuid)
    finally:
        if cluster_uuid:
            with deleted_after(stack, driver, cluster_uuid):
                pass


def _lifecycle(stack: Stack, files: pki.CertFiles, cluster: dict[str, Any]) -> None:
    api = stack.api
    started = time.monotonic()
    created = api.post("/v1/containers", json={
        "name": "box", "image": IMAGE, "cluster": "boxes", "command": ["sh", "-c", SLEEPER],
        "environment": {"GREETING": "magna"}, "memory": 32})
    assert created.status_code == 202, created.text
    box = wait_container(api, "box", "Running", timeout=60)
    print(f"container create to Running: {time.monotonic() - started:.1f}s")
    assert box["host"] in cluster["master_addresses"] + cluster["node_addresses"]
    seen = inspect(files, box)
    assert seen["Name"] == f"/magna-{box['uuid']}" and seen["State"]["Running"]
    assert seen["HostConfig"]["Memory"] == 32 * 1024 * 1024
    assert "GREETING=magna" in seen["Config"]["Env"]

    wait_for(lambda: "hello-magna" in api.get("/v1/containers/box/logs").json()["logs"], 20,
             "the container's greeting in its logs")
    executed = api.post("/v1/containers/box/exec",
                        json={"command": ["sh", "-c", "echo $GREETING; exit 4"]})
    assert executed.status_code == 200, executed.text
    assert executed.json() == {"output": "magna\n", "exit_code": 4}

    act(api, "box", "pause")
    wait_container(api, "box", "Paused")
    assert inspect(files, box)["State"]["Paused"] is True
    act(api, "box", "unpause")
    wait_container(api, "box", "Running")
    assert inspect(files, box)["State"]["Paused"] is False
    act(api, "box", "stop")
    stopped = wait_container(api, "box", "Stopped")
    state = inspect(files, box)["State"]
    assert not state["Running"] and state["ExitCode"] == stopped["exit_code"] == 0
    act(api, "box", "start")
    wait_container(api, "box", "Running")
    before = inspect(files, box)["State"]["StartedAt"]
    act(api, "box", "reboot")
    wait_for(lambda: inspect(files, box)["State"]["StartedAt"] != before, 30,
             "the engine to restart the container")
    assert wait_container(api, "box", "Running")["desired_state"] == "running"
    assert inspect(files, box)["State"]["Running"]


def _truthful_failures(stack: Stack, files: pki.CertFiles, cluster: dict[str, Any]) -> None:
    api = stack.api
    assert api.post("/v1/containers", json={
        "name": "quick", "image": IMAGE, "cluster": cluster["uuid"],
        "command": "sh -c 'exit 3'"}).status_code == 202
    # The conductor's first answer already says it exited (not the Running of its first
    # milliseconds): nothing is observed before the create's answer is recorded.
    def answered() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get("/v1/containers/quick").json()
        return body if body["status"] != "Creating" else None

    first = wait_for(answered, 60, "the create's answer to be recorded")
    assert first["status"] == "Stopped", first
    quick = wait_container(api, "quick", "Stopped", timeout=60)
    assert quick["exit_code"] == 3 and inspect(files, quick)["State"]["ExitCode"] == 3
    assert api.post("/v1/containers", json={
        "name": "absent-image", "image": "alpine:3", "cluster": cluster["uuid"],
        "command": "true"}).status_code == 202
    missing = wait_container(api, "absent-image", "Error", timeout=60)
    assert "No such image: alpine:3" in missing["status_reason"]
    assert "never pulls" in missing["status_reason"]

    assert api.delete("/v1/containers/quick").status_code == 204
    wait_for(lambda: api.get("/v1/containers/quick").status_code == 404, 30,
             "the stopped container to go")
    with engine(files, quick["host"]) as client, pytest.raises(docker.errors.NotFound):
        client.containers.get(quick["container_id"])
