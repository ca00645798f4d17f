"""``swarm_strategy`` on a real local Swarm cluster of one master and two workers: where Magna's
``/v1/containers`` places each new container, checked against the engines.

The cluster is made through the API with ``swarm_strategy=binpack``: three containers created
one after another all land on the first node. Then the driver's own ``converge_container`` is
asked for containers of the same cluster with the strategy as other clusters would carry it
(``ContainerPlace.labels``): spread sends each to the emptiest node, alternating between the two
workers, and random sends one to some node of the cluster and, asked again (a pass repeated
after a crash), finds it there. Nothing is ever pulled: the test image is imported into each
engine.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from magna.drivers.base import ContainerPlace, ContainerSpec
from magna.drivers.local_nodes import pki
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.conductor import FAST, Stack, conductor_stack
from tests.support.containers import wait_container
from tests.support.databases import SQLITE_ONLY
from tests.support.local_containers import (
    IMAGE,
    SLEEPER,
    ApiSigner,
    busybox_tar,
    engine,
)
from tests.support.local_swarm import deleted_after

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None
                       or not os.path.exists("/bin/busybox"),
                       reason="needs root, docker.io and busybox-static"),
]


@pytest.fixture
def stack(tmp_path: Path, db_url: str) -> Iterator[Stack]:
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["local-swarm"]},
                     conductor=FAST)
    with conductor_stack(conf, tmp_path) as running:
        yield running


def _build(stack: Stack, tmp_path: Path) -> tuple[dict[str, Any], pki.CertFiles]:
    template = stack.api.post("/v1/clustertemplates", json={
        "name": "packed", "coe": "swarm-mode", "image_id": "debian-12-docker",
        "external_network_id": "public", "flavor_id": "m1.small",
        "master_flavor_id": "m1.small", "labels": {"swarm_strategy": "binpack"}})
    assert template.status_code == 201, template.text
    created = stack.api.post("/v1/clusters", json={
        "name": "packed", "cluster_template_id": template.json()["uuid"], "master_count": 1,
        "node_count": 2})
    assert created.status_code == 202, created.text
    body = stack.wait_status(created.json()["uuid"], "CREATE_COMPLETE", timeout=300)
    files = pki.CertFiles(str(tmp_path / "user"), "")
    pki.ensure(files, pki.CertRequest("tester", None, client=True),
               ApiSigner(stack, body["uuid"]))
    image = busybox_tar()
    for address in _nodes(body):
        with engine(files, address) as client:
            client.api.import_image_from_data(image, repository=IMAGE.split(":")[0],
                                              tag="latest")
    return body, files


def _nodes(cluster: dict[str, Any]) -> list[str]:
    return list(cluster["master_addresses"]) + list(cluster["node_addresses"])


def _where(files: pki.CertFiles, address: str, container_uuid: str) -> bool:
    """Whether the engine at ``address`` holds the container (asked of the engine itself)."""
    with engine(files, address) as client:
        return any(found.name == f"magna-{container_uuid}" for found in
                   client.containers.list(all=True))


@SQLITE_ONLY
def test_each_strategy_places_containers_as_it_says(stack: Stack, tmp_path: Path) -> None:
    driver = LocalSwarmDriver(stack.services.conf)
    cluster_uuid = ""
    try:
        started = time.monotonic()
        cluster, files = _build(stack, tmp_path)
        cluster_uuid = cluster["uuid"]
        print(f"\ncluster 1+2 with the test image: {time.monotonic() - started:.1f}s")
        nodes = _nodes(cluster)
        assert len(nodes) == 3
        _binpack_through_the_api(stack, files, nodes)
        place = ContainerPlace(cluster_uuid=cluster_uuid, nodes=tuple(nodes),
                               pki=ApiSigner(stack, cluster_uuid),
                               labels={"swarm_strategy": "spread"})
        spread = [_converge(driver, place, files) for _ in range(4)]
        assert spread == [nodes[1], nodes[2], nodes[1], nodes[2]]
        random_place = ContainerPlace(cluster_uuid=cluster_uuid, nodes=tuple(nodes),
                                      pki=place.pki, labels={"swarm_strategy": "random"})
        spec = _spec()
        first = driver.converge_container(random_place, spec).host
        assert first in nodes and _where(files, str(first), spec.uuid)
        assert driver.converge_container(random_place, spec).host == first
    finally:
        if cluster_uuid:
            with deleted_after(stack, driver, cluster_uuid):
                pass


def _binpack_through_the_api(stack: Stack, files: pki.CertFiles, nodes: list[str]) -> None:
    for i in range(3):
        created = stack.api.post("/v1/containers", json={
            "name": f"packed-{i}", "image": IMAGE, "cluster": "packed",
            "command": ["sh", "-c", SLEEPER]})
        assert created.status_code == 202, created.text
        running = wait_container(stack.api, f"packed-{i}", "Running", timeout=60)
        assert running["host"] == nodes[0], running
        assert _where(files, nodes[0], running["uuid"])


def _spec() -> ContainerSpec:
    return ContainerSpec(uuid=str(uuidlib.uuid4()), name="spread", image=IMAGE,
                         command=("sh", "-c", SLEEPER))


def _converge(driver: LocalSwarmDriver, place: ContainerPlace, files: pki.CertFiles) -> str:
    spec = _spec()
    observed = driver.converge_container(place, spec)
    assert observed.status == "Running", observed
    assert observed.host is not None and _where(files, observed.host, spec.uuid)
    return observed.host
