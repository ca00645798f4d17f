"""A conductor whose heartbeat cannot be written stops driving before another may take over.

Two conductor processes on PostgreSQL with the fake driver. While one of them is building a
cluster, the test holds a row lock on that conductor's ``magnum_service`` row, so its heartbeat
blocks in the database (a stalled database, as that conductor sees it) while its worker goes on.
Its lease (``[conductor] dead_after - fence_margin`` from its last written beat) runs out before
the other conductor may judge it dead, so it stops at the fake driver's next checkpoint; the
other takes the cluster over and finishes it. The fake driver's log proves that the two never
worked on the cluster at the same time, and the stalled one's log says why it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from magna.db import migrate
from tests.support import backing
from tests.support.conductor import wait_for
from tests.support.fake_driver import nodes_on_disk, overlaps, spans
from tests.support.processes import Deployment, deployed

pytestmark = [pytest.mark.postgres]
HEADERS = {"OpenStack-API-Version": "container-infra latest"}
NODES = 30


@pytest.fixture
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("fencing")
    with backing.postgres_database() as url:
        migrate.upgrade(url)
        # NOTE: a lease of 3 s, taken over after 6 s: the 3 s between are the margin a fake
        # node step (0.3 s) has to reach its checkpoint, however loaded the host.
        common: dict[str, dict[str, object]] = {
            "database": {"auto_upgrade": False},
            "drivers": {"enabled_drivers": "fake"},
            "conductor": {"sweep_interval": 0.5, "heartbeat_interval": 0.5, "dead_after": 6,
                          "fence_margin": 3, "health_interval": 0, "workers": 2}}
        with deployed(root, url, common, ("conductor-p", "conductor-q")) as deploy:
            yield deploy


def _api(deploy: Deployment, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, deploy.api_url + path, headers=HEADERS, timeout=10, **kwargs)


def _create(deploy: Deployment) -> str:
    template = _api(deploy, "POST", "/v1/clustertemplates", json={
        "coe": "swarm-mode", "image_id": "fake-image", "external_network_id": "public",
        "flavor_id": "m1.small", "master_flavor_id": "m1.small"}).json()["uuid"]
    response = _api(deploy, "POST", "/v1/clusters", json={
        "name": "stalled", "cluster_template_id": template, "node_count": NODES,
        "labels": {"fake_node_seconds": "0.3"}})
    assert response.status_code == 202, response.text
    uuid: str = response.json()["uuid"]
    return uuid


def _status(deploy: Deployment, uuid: str) -> str:
    status: str = _api(deploy, "GET", f"/v1/clusters/{uuid}").json()["status"]
    return status


def test_a_conductor_whose_heartbeat_stalls_stops_before_the_other_takes_over(
        deployment: Deployment) -> None:
    uuid = _create(deployment)
    state = str(deployment.root / "state")
    stalled = wait_for(lambda: len(nodes_on_disk(state, uuid)) >= 2 and deployment.holder(uuid),
                       30, "the create to be under way")
    survivor = next(name for name in deployment.conductors if name != stalled)
    engine = create_engine(deployment.db_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT id FROM magnum_service WHERE host = :h FOR UPDATE"),
                         {"h": stalled})
            wait_for(lambda: deployment.holder(uuid) == survivor, 60,
                     f"{survivor} to take the cluster over")
            conn.rollback()  # the stalled conductor's heartbeat goes through again
    finally:
        engine.dispose()
    wait_for(lambda: _status(deployment, uuid) == "CREATE_COMPLETE", 60, "the create")
    assert len(nodes_on_disk(state, uuid)) == NODES + 1
    log = str(deployment.root / "state" / "fake-driver" / "operations.log")
    assert overlaps(log) == []
    actors = [span.actor.split("@")[1].split("/")[0] for span in spans(log)
              if span.cluster == uuid]
    assert actors[0] == stalled and survivor in actors, actors
    stalled_log = (deployment.root / f"{stalled}.log").read_text()
    assert "heartbeat is overdue" in stalled_log
