"""Several conductor processes on PostgreSQL or MariaDB and RabbitMQ, killed with SIGKILL
mid-operation.

The fake driver's nodes are files in a state directory all processes share, and it logs every
apply/delete with the process that ran it, so these tests can check that exactly one conductor
works on a cluster at a time, that a kill leaves nothing orphaned, and that statuses end true.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from magna.conductor.ring import HashRing
from magna.db import migrate
from tests.support import backing
from tests.support.conductor import wait_for
from tests.support.fake_driver import nodes_on_disk, overlaps
from tests.support.processes import Deployment

pytestmark = [pytest.mark.rabbitmq]
HEADERS = {"OpenStack-API-Version": "container-infra latest"}
CONDUCTORS = ("conductor-a", "conductor-b", "conductor-c")


@pytest.fixture(scope="module",
                params=[pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mariadb", marks=pytest.mark.mariadb)])
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Deployment]:
    backing.ensure_rabbitmq()
    root = tmp_path_factory.mktemp("deployment")
    database = (backing.mariadb_database() if request.param == "mariadb"
                else backing.postgres_database())
    with database as url:
        migrate.upgrade(url)
        common: dict[str, dict[str, object]] = {
            "DEFAULT": {"service_down_time": 6},
            "database": {"auto_upgrade": False},
            "drivers": {"enabled_drivers": "fake"},
            "conductor": {"sweep_interval": 0.5, "heartbeat_interval": 0.5, "dead_after": 3,
                          "fence_margin": 1,
                          "health_interval": 1, "workers": 3,
                          "transport_url": "amqp://guest:guest@127.0.0.1:5672//"}}
        deploy = Deployment(root, url, common)
        try:
            deploy.start_api()
            for name in CONDUCTORS:
                deploy.start_conductor(name)
            wait_for(lambda: len(_services(deploy)) == 3, 20, "three conductors to heartbeat")
            yield deploy
        finally:
            deploy.stop_all()


def _api(deploy: Deployment, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, deploy.api_url + path, headers=HEADERS, timeout=10, **kwargs)


def _services(deploy: Deployment) -> list[dict[str, Any]]:
    services: list[dict[str, Any]] = _api(deploy, "GET", "/v1/mservices").json()["mservices"]
    return services


def _template(deploy: Deployment) -> str:
    response = _api(deploy, "POST", "/v1/clustertemplates", json={
        "coe": "swarm-mode", "image_id": "fake-image", "external_network_id": "public",
        "flavor_id": "m1.small", "master_flavor_id": "m1.small"})
    assert response.status_code == 201, response.text
    uuid: str = response.json()["uuid"]
    return uuid


def _create(deploy: Deployment, nodes: int, seconds: float = 0.0, name: str = "c") -> str:
    response = _api(deploy, "POST", "/v1/clusters", json={
        "name": name, "cluster_template_id": _template(deploy), "node_count": nodes,
        "labels": {"fake_node_seconds": str(seconds)}})
    assert response.status_code == 202, response.text
    uuid: str = response.json()["uuid"]
    return uuid


def _cluster(deploy: Deployment, uuid: str) -> dict[str, Any] | None:
    response = _api(deploy, "GET", f"/v1/clusters/{uuid}")
    return response.json() if response.status_code == 200 else None


def _wait_status(deploy: Deployment, uuid: str, status: str, timeout: float = 60
                 ) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        body = _cluster(deploy, uuid)
        return body if body and body["status"] == status else None
    try:
        result: dict[str, Any] = wait_for(reached, timeout, f"{uuid} to reach {status}")
    except AssertionError as exc:
        events = _api(deploy, "GET", f"/v1/clusters/{uuid}/events").json()
        logs = {name: (deploy.root / f"{name}.log").read_text()[-3000:]
                for name in deploy.conductors}
        raise AssertionError(f"{exc}\ncluster: {_cluster(deploy, uuid)}\nevents: {events}\n"
                             f"holder: {deploy.holder(uuid)}\nlogs: {logs}") from None
    return result


def _disk(deploy: Deployment, uuid: str) -> list[str]:
    return nodes_on_disk(str(deploy.root / "state"), uuid)


def _no_overlaps(deploy: Deployment) -> None:
    log = deploy.root / "state" / "fake-driver" / "operations.log"
    assert overlaps(str(log)) == []


def _kill_holder_once_busy(deploy: Deployment, uuid: str, busy: Any) -> str:
    """Wait until ``busy()`` says the driver is mid-way, then SIGKILL the reserving conductor."""
    # NOTE: the holder seen mid-way, not read again: by a second read the pass may be over.
    holder = wait_for(lambda: busy() and deploy.holder(uuid), 30, "the driver to be mid-way")
    assert holder in deploy.conductors
    deploy.conductors[holder].kill9()
    return holder


def test_clusters_spread_over_conductors_one_at_a_time(deployment: Deployment) -> None:
    """The clusters are worked by more than one conductor when the hash ring of the live ones
    spreads them (it gives all six to one in 3**-5 of runs: then one conductor is right).

    NOTE: which conductor works which cluster is not asserted one by one: on a loaded host a
    conductor may miss heartbeats and its clusters move to another, as they should."""
    live = wait_for(lambda: (hosts := sorted(s["host"] for s in _services(deployment)
                                             if s["state"] == "up")) and len(hosts) == 3
                    and hosts, 20, "three conductors up")
    uuids = [_create(deployment, 2, 0.1, name=f"spread{i}") for i in range(6)]
    for uuid in uuids:
        _wait_status(deployment, uuid, "CREATE_COMPLETE")
        assert len(_disk(deployment, uuid)) == 3
    sources = set()
    for uuid in uuids:
        events = _api(deployment, "GET", f"/v1/clusters/{uuid}/events").json()["events"]
        sources |= {e["source"] for e in events}
    owners = {HashRing(live).owner(uuid) for uuid in uuids}
    assert len(sources) >= min(2, len(owners)), (sources, owners)
    _no_overlaps(deployment)


def test_kill_during_create_then_survivors_finish(deployment: Deployment) -> None:
    uuid = _create(deployment, 6, 0.4, name="killcreate")
    victim = _kill_holder_once_busy(deployment, uuid, lambda: len(_disk(deployment, uuid)) >= 2)
    body = _wait_status(deployment, uuid, "CREATE_COMPLETE", timeout=90)
    assert len(body["node_addresses"]) == 6 and len(_disk(deployment, uuid)) == 7
    # NOTE: a survivor's health observation may hold the cluster for a moment after it
    # completed; what must not happen is a reservation that stays (the dead one's, say).
    wait_for(lambda: deployment.holder(uuid) is None, 15, "the reservation to be released")
    _no_overlaps(deployment)
    deployment.start_conductor(victim)


def test_kill_during_resize_then_restart_finishes(deployment: Deployment) -> None:
    uuid = _create(deployment, 1, 0.4, name="killresize")
    _wait_status(deployment, uuid, "CREATE_COMPLETE")
    response = _api(deployment, "POST", f"/v1/clusters/{uuid}/actions/resize",
                    json={"node_count": 6})
    assert response.status_code == 202
    victim = _kill_holder_once_busy(deployment, uuid, lambda: len(_disk(deployment, uuid)) >= 4)
    deployment.start_conductor(victim)
    body = _wait_status(deployment, uuid, "UPDATE_COMPLETE", timeout=90)
    assert len(body["node_addresses"]) == 6 and len(_disk(deployment, uuid)) == 7
    _no_overlaps(deployment)


def test_kill_during_delete_leaves_nothing(deployment: Deployment) -> None:
    uuid = _create(deployment, 6, 0.3, name="killdelete")
    _wait_status(deployment, uuid, "CREATE_COMPLETE", timeout=90)
    assert _api(deployment, "DELETE", f"/v1/clusters/{uuid}").status_code == 204
    victim = _kill_holder_once_busy(deployment, uuid, lambda: len(_disk(deployment, uuid)) <= 5)
    wait_for(lambda: _cluster(deployment, uuid) is None, 90, "the cluster row to go")
    assert _disk(deployment, uuid) == []
    assert not (deployment.root / "state" / "fake-driver" / uuid).exists()
    _no_overlaps(deployment)
    deployment.start_conductor(victim)


def test_a_dead_conductor_is_reported_down(deployment: Deployment) -> None:
    victim = deployment.conductors["conductor-c"]
    victim.kill9()
    try:
        def states() -> dict[str, str]:
            return {s["host"]: s["state"] for s in _services(deployment)}
        wait_for(lambda: states().get("conductor-c") == "down", 20, "conductor-c down")
        assert states()["conductor-a"] == "up" and states()["conductor-b"] == "up"
    finally:
        deployment.start_conductor("conductor-c")
    wait_for(lambda: {s["host"]: s["state"] for s in _services(deployment)}.get(
        "conductor-c") == "up", 20, "conductor-c back up")


@pytest.mark.rabbitmq_restart
def test_a_rabbitmq_restart_loses_no_work(deployment: Deployment) -> None:
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True)
    try:
        started = time.monotonic()
        uuid = _create(deployment, 1, 0.0, name="nobroker")
        assert time.monotonic() - started < 10, "the API answers while the broker is down"
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True)
        subprocess.run(["rabbitmqctl", "await_startup"], check=True, capture_output=True)
    _wait_status(deployment, uuid, "CREATE_COMPLETE")
    after = _create(deployment, 1, 0.0, name="brokerback")
    _wait_status(deployment, after, "CREATE_COMPLETE")
