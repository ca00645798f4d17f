"""The local Swarm driver's failure paths, through the API and a conductor, on real engines.

An engine that will not start, Docker missing, a join the network refuses, an exhausted subnet
pool and two clusters racing for one name: each ends in a status whose reason says what went
wrong (or converges once the cause is gone), and a delete leaves nothing on the host. The crash
in the middle of a create is ``test_conductor_processes_local.py``.

Each test removes its clusters in ``finally`` (the driver's delete, then the brute-force sweep
of ``tests/support/local_swarm.py``), so a failing assertion leaves nothing behind either.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import update

from magna.db import models
from magna.drivers.local_nodes import network
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.api import template_body
from tests.support.conductor import FAST, Stack, conductor_stack, wait_for
from tests.support.databases import SQLITE_ONLY
from tests.support.local_swarm import (
    NEEDS_ENGINES,
    assert_nothing_left,
    brute_force_cleanup,
    make_spec,
)

pytestmark = NEEDS_ENGINES
DONE = ("CREATE_COMPLETE", "CREATE_FAILED")


@contextlib.contextmanager
def _stack(tmp_path: Path, db_url: str, **local_swarm: object
           ) -> Iterator[tuple[Stack, LocalSwarmDriver, list[str]]]:
    """An API and a conductor on the local Swarm driver; every cluster uuid the test appends
    to the list is removed from the host at the end, whatever happened."""
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["local-swarm"]},
                     conductor=FAST, local_swarm=dict(local_swarm))
    driver = LocalSwarmDriver(conf)
    uuids: list[str] = []
    try:
        with conductor_stack(conf, tmp_path) as stack:
            yield stack, driver, uuids
    finally:
        for uuid in uuids:
            try:
                driver.delete(make_spec(uuid=uuid))
            finally:
                brute_force_cleanup(network.short_id(uuid))


def _create(stack: Stack, uuids: list[str], name: str, **body: Any) -> str:
    template = stack.api.post("/v1/clustertemplates", json=template_body())
    assert template.status_code == 201, template.text
    created = stack.api.post("/v1/clusters", json={
        "name": name, "cluster_template_id": template.json()["uuid"], "master_count": 1,
        "node_count": 0, **body})
    assert created.status_code == 202, created.text
    uuid: str = created.json()["uuid"]
    uuids.append(uuid)
    return uuid


def _delete(stack: Stack, driver: LocalSwarmDriver, uuid: str) -> None:
    assert stack.api.delete(f"/v1/clusters/{uuid}").status_code == 204
    stack.wait_gone(uuid, timeout=120)
    assert_nothing_left(driver, uuid)


def _events(stack: Stack, uuid: str) -> list[str]:
    return [e["message"] for e in stack.api.get(f"/v1/clusters/{uuid}/events").json()["events"]]


@SQLITE_ONLY
def test_an_engine_that_will_not_start_fails_the_cluster(tmp_path: Path, db_url: str) -> None:
    broken = tmp_path / "broken-dockerd"
    broken.write_text("#!/bin/sh\necho \"failed to start daemon: the disk is on fire ($1)\" >&2\n"
                      "exit 1\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    with _stack(tmp_path, db_url, dockerd=str(broken)) as (stack, driver, uuids):
        uuid = _create(stack, uuids, "broken")
        body = stack.wait_status(uuid, *DONE, timeout=120)
        assert body["status"] == "CREATE_FAILED"
        reason = body["status_reason"]
        print(f"\nengine that will not start: {reason}")
        assert "The engine of node default-master-0 keeps exiting" in reason
        assert "failed to start daemon: the disk is on fire (--config-file)" in reason
        _delete(stack, driver, uuid)


@SQLITE_ONLY
def test_missing_docker_names_the_package(tmp_path: Path, db_url: str) -> None:
    with _stack(tmp_path, db_url, dockerd="/nonexistent/dockerd") as (stack, driver, uuids):
        uuid = _create(stack, uuids, "nodocker")
        body = stack.wait_status(uuid, *DONE, timeout=60)
        assert body["status"] == "CREATE_FAILED"
        assert "needs docker.io" in body["status_reason"]
        assert "apt-get install docker.io" in body["status_reason"]
        assert_nothing_left(driver, uuid)  # it failed before touching the host
        _delete(stack, driver, uuid)


JOIN_FAILED = "Node default-worker-0 failed to join the swarm at"


def _exists(path: str) -> Callable[[], bool]:
    return lambda: os.path.exists(path)


def _reported(stack: Stack, uuid: str, text: str) -> Callable[[], bool]:
    return lambda: any(text in message for message in _events(stack, uuid))


def _subnet(driver: LocalSwarmDriver, uuid: str) -> str:
    allocation = network.read_allocation(os.path.join(driver.root, uuid))
    assert allocation is not None
    return str(allocation.subnet)


def _block_swarm_port(netns: str, *, block: bool) -> None:
    rule = ["OUTPUT", "-p", "tcp", "--dport", "2377", "-j", "REJECT",
            "--reject-with", "tcp-reset"]
    subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "iptables", "-w",
                    "-I" if block else "-D", *rule], check=True, capture_output=True)


@SQLITE_ONLY
def test_a_join_that_fails_retries_then_converges_or_times_out(tmp_path: Path,
                                                                db_url: str) -> None:
    """Two clusters of a master and a worker whose worker cannot reach the manager's 2377: the
    conductor keeps retrying and says the join failed; lifted, one converges; the other
    never can and times out with that cause in its reason."""
    with _stack(tmp_path, db_url) as (stack, driver, uuids):
        healed = _create(stack, uuids, "healed", node_count=1)
        # NOTE: a timeout far beyond the test's run, so the clock moved below is what ends the
        # create, never a slow machine before the CREATE_IN_PROGRESS check.
        stuck = _create(stack, uuids, "stuck", node_count=1, create_timeout=30)
        workers = {uuid: network.netns_name(uuid, "default-worker-0") for uuid in uuids}
        for netns in workers.values():
            # NOTE: the namespace exists well before its engine answers, let alone joins.
            wait_for(_exists(f"/run/netns/{netns}"), 120, f"namespace {netns}")
            _block_swarm_port(netns, block=True)
        for uuid in uuids:
            wait_for(_reported(stack, uuid, JOIN_FAILED), 180, "the failed join reported")
            assert stack.api.get(f"/v1/clusters/{uuid}").json()["status"] == \
                "CREATE_IN_PROGRESS"

        _block_swarm_port(workers[healed], block=False)
        body = stack.wait_status(healed, *DONE, timeout=180)
        assert body["status"] == "CREATE_COMPLETE", body["status_reason"]
        assert len(body["node_addresses"]) == 1

        # The clock of a 30-minute create timeout, moved on instead of waited for.
        with stack.services.transaction() as session:
            session.execute(update(models.Cluster).where(models.Cluster.uuid == stuck).values(
                status_since=models.utcnow() - dt.timedelta(minutes=31)))
        body = stack.wait_status(stuck, *DONE, timeout=60)
        assert body["status"] == "CREATE_FAILED"
        print(f"\njoin that never succeeds: {body['status_reason']}")
        assert body["status_reason"].startswith("Create timed out after 30 minutes.")
        assert JOIN_FAILED in body["status_reason"]
        for uuid in uuids:
            _delete(stack, driver, uuid)


@SQLITE_ONLY
def test_an_exhausted_subnet_pool(tmp_path: Path, db_url: str) -> None:
    """A /23 pool of /24 subnets holds two clusters; the third fails with a reason naming the
    option to change, leaves nothing on the host, deletes; after a delete a new one fits."""
    pool = {"subnet_pool": "10.213.46.0/23", "subnet_prefix": 24}
    with _stack(tmp_path, db_url, **pool) as (stack, driver, uuids):
        first, second = (_create(stack, uuids, name) for name in ("one", "two"))
        for uuid in (first, second):
            body = stack.wait_status(uuid, *DONE, timeout=180)
            assert body["status"] == "CREATE_COMPLETE", body["status_reason"]
        third = _create(stack, uuids, "three")
        body = stack.wait_status(third, *DONE, timeout=60)
        assert body["status"] == "CREATE_FAILED"
        assert "subnet pool is exhausted (2 clusters)" in body["status_reason"]
        assert "[local_swarm] subnet_pool" in body["status_reason"]
        assert_nothing_left(driver, third)
        _delete(stack, driver, third)
        _delete(stack, driver, first)
        fourth = _create(stack, uuids, "four")
        body = stack.wait_status(fourth, *DONE, timeout=180)
        assert body["status"] == "CREATE_COMPLETE", body["status_reason"]
        subnets = {_subnet(driver, u) for u in (second, fourth)}
        assert subnets == {"10.213.46.0/24", "10.213.47.0/24"}


def test_two_clusters_racing_for_one_name(tmp_path: Path, db_url: str) -> None:
    """Magnum allows the duplicate name (lookups by it are then 409); on the host the two
    clusters are separate in everything keyed by the cluster, and both delete cleanly."""
    with _stack(tmp_path, db_url) as (stack, driver, uuids):
        template = stack.api.post("/v1/clustertemplates", json=template_body()).json()["uuid"]
        barrier = threading.Barrier(2)

        def create() -> None:
            barrier.wait()
            answer = stack.api.post("/v1/clusters", json={
                "name": "twin", "cluster_template_id": template, "node_count": 0})
            assert answer.status_code == 202, answer.text
            uuids.append(answer.json()["uuid"])

        threads = [threading.Thread(target=create) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(uuids)) == 2
        bodies = [stack.wait_status(uuid, *DONE, timeout=180) for uuid in uuids]
        assert [b["status"] for b in bodies] == ["CREATE_COMPLETE"] * 2, bodies
        assert stack.api.get("/v1/clusters/twin").status_code == 409
        assert len({b["api_address"] for b in bodies}) == 2
        subnets = {_subnet(driver, u) for u in uuids}
        assert len(subnets) == 2
        assert len({network.bridge_name(u) for u in uuids}) == 2
        listing = subprocess.run(["ip", "netns", "list"], capture_output=True,
                                 text=True).stdout
        for uuid in uuids:
            assert network.netns_name(uuid, "default-master-0") in listing
        for uuid in uuids:
            _delete(stack, driver, uuid)
