"""The conductor crash bar on the real default driver: two conductor processes on PostgreSQL and
RabbitMQ build a local Swarm cluster; the conductor working on it is killed with SIGKILL in the
middle of the create and again in the middle of the delete. The survivor finishes both, the
status ends true, and nothing of the cluster is left on the host."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from magna.db import migrate
from magna.drivers.local_nodes.network import short_id
from tests.support import backing
from tests.support.conductor import wait_for
from tests.support.local_swarm import brute_force_cleanup
from tests.support.processes import Deployment, deployed

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.docker]
HEADERS = {"OpenStack-API-Version": "container-infra latest"}


@pytest.fixture
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    backing.ensure_rabbitmq()
    root = tmp_path_factory.mktemp("local-deployment")
    with backing.postgres_database() as url:
        migrate.upgrade(url)
        common: dict[str, dict[str, object]] = {
            "database": {"auto_upgrade": False},
            "conductor": {"sweep_interval": 0.5, "heartbeat_interval": 0.5, "dead_after": 3,
                          "fence_margin": 1,
                          "health_interval": 2, "workers": 2,
                          "transport_url": "amqp://guest:guest@127.0.0.1:5672//"}}
        with deployed(root, url, common, ("conductor-x", "conductor-y")) as deploy:
            yield deploy


def _api(deploy: Deployment, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, deploy.api_url + path, headers=HEADERS, timeout=10, **kwargs)


def _namespaces(uuid: str) -> list[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in listing.splitlines()
            if line.startswith(f"magna-{short_id(uuid)}-")]


def _kill_holder(deploy: Deployment, uuid: str) -> str:
    holder = wait_for(lambda: deploy.holder(uuid), 30, "a conductor to take the cluster")
    deploy.conductors[holder].kill9()
    return str(holder)


def test_sigkill_mid_create_and_mid_delete_on_real_engines(deployment: Deployment) -> None:
    template = _api(deployment, "POST", "/v1/clustertemplates", json={
        "coe": "swarm-mode", "image_id": "debian-12-docker", "external_network_id": "public",
        "flavor_id": "m1.small", "master_flavor_id": "m1.small"}).json()["uuid"]
    uuid = _api(deployment, "POST", "/v1/clusters", json={
        "name": "crashy", "cluster_template_id": template, "node_count": 2}).json()["uuid"]
    try:
        wait_for(lambda: _namespaces(uuid), 30, "the first node namespace")
        first = _kill_holder(deployment, uuid)
        body = wait_for(lambda: (lambda b: b if b["status"] in ("CREATE_COMPLETE",
                                                                "CREATE_FAILED") else None)(
            _api(deployment, "GET", f"/v1/clusters/{uuid}").json()), 90, "the create")
        assert body["status"] == "CREATE_COMPLETE", body["status_reason"]
        assert len(body["node_addresses"]) == 2 and len(body["master_addresses"]) == 1
        assert len(_namespaces(uuid)) == 3
        deployment.start_conductor(first)
        assert _api(deployment, "DELETE", f"/v1/clusters/{uuid}").status_code == 204
        wait_for(lambda: deployment.holder(uuid), 30, "the delete to start")
        _kill_holder(deployment, uuid)
        wait_for(lambda: _api(deployment, "GET", f"/v1/clusters/{uuid}").status_code == 404,
                 90, "the cluster to be gone")
        assert _namespaces(uuid) == []
        assert f"mgb{short_id(uuid)}" not in subprocess.run(
            ["ip", "-br", "link"], capture_output=True, text=True).stdout
    finally:
        brute_force_cleanup(short_id(uuid))
