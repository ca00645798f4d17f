"""Real clusters through the API for the lifecycle, cost and concurrency benchmarks.

``Fleet`` creates, scales and deletes clusters on a running ``magna serve`` and times each step
from the request to the status that ends it. Whatever happens, leaving the block deletes every
cluster it created: through the API first, then straight through the driver for anything the
API could not remove, so an error never leaves engines or namespaces behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.load import HEADERS
from bench.server import Server

LOG = logging.getLogger(__name__)
POLL = 0.05  # seconds between status polls; the resolution of every lifecycle time
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
FAILED = ("CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED")


class ClusterFailed(RuntimeError):
    pass


class Fleet:
    def __init__(self, srv: Server, timeout: float = 300) -> None:
        self.srv = srv
        self.timeout = timeout
        self.http = httpx.Client(base_url=srv.url, headers=HEADERS, timeout=60)
        self.created: list[str] = []
        self.template = ""

    def make_template(self) -> str:
        response = self.http.post("/v1/clustertemplates", json={
            "name": "bench-swarm", "coe": "swarm-mode", "image_id": "debian-12-docker",
            "external_network_id": "public", "flavor_id": "m1.small",
            "master_flavor_id": "m1.small"})
        response.raise_for_status()
        self.template = str(response.json()["uuid"])
        return self.template

    def request_create(self, name: str, masters: int, workers: int) -> str:
        body: dict[str, Any] = {"name": name, "cluster_template_id": self.template,
                                "master_count": masters, "node_count": workers}
        if masters > 1:
            body["master_lb_enabled"] = True  # the API refuses several masters without one
        response = self.http.post("/v1/clusters", json=body)
        if response.status_code != 202:
            raise ClusterFailed(f"create {name}: {response.status_code} {response.text}")
        uuid = str(response.json()["uuid"])
        self.created.append(uuid)
        return uuid

    def create(self, name: str, masters: int, workers: int) -> tuple[str, float]:
        """Seconds from the create request to ``CREATE_COMPLETE``."""
        started = time.monotonic()
        uuid = self.request_create(name, masters, workers)
        self.wait(uuid, "CREATE_COMPLETE")
        return uuid, time.monotonic() - started

    def scale(self, uuid: str, node_count: int) -> float:
        """Seconds from a ``node_count`` patch to ``UPDATE_COMPLETE``."""
        started = time.monotonic()
        response = self.http.patch(f"/v1/clusters/{uuid}", json=[
            {"op": "replace", "path": "/node_count", "value": node_count}])
        if response.status_code != 202:
            raise ClusterFailed(f"scale {uuid}: {response.status_code} {response.text}")
        self.wait(uuid, "UPDATE_COMPLETE")
        return time.monotonic() - started

    def delete(self, uuid: str) -> float:
        """Seconds from the delete request until the cluster is gone (404)."""
        started = time.monotonic()
        response = self.http.delete(f"/v1/clusters/{uuid}")
        if response.status_code not in (204, 404):
            raise ClusterFailed(f"delete {uuid}: {response.status_code} {response.text}")
        self.wait_gone(uuid)
        return time.monotonic() - started

    def status(self, uuid: str) -> dict[str, Any] | None:
        response = self.http.get(f"/v1/clusters/{uuid}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def wait(self, uuid: str, wanted: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            body = self.status(uuid)
            if body is not None and body["status"] == wanted:
                return body
            if body is not None and body["status"] in FAILED:
                raise ClusterFailed(f"{uuid} {body['status']}: {body.get('status_reason')}")
            time.sleep(POLL)
        raise ClusterFailed(f"{uuid} did not reach {wanted} in {self.timeout}s")

    def wait_gone(self, uuid: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.status(uuid) is None:
                if uuid in self.created:
                    self.created.remove(uuid)
                return
            time.sleep(POLL)
        raise ClusterFailed(f"{uuid} was not deleted in {self.timeout}s")

    def delete_all(self) -> None:
        """Delete what is left through the API, then through the driver if that failed."""
        leftovers = list(self.created)
        for uuid in leftovers:
            try:
                self.http.delete(f"/v1/clusters/{uuid}")
            except httpx.HTTPError:
                LOG.warning("bench: could not request the delete of %s", uuid)
        for uuid in leftovers:
            try:
                self.wait_gone(uuid)
            except (ClusterFailed, httpx.HTTPError):
                LOG.warning("bench: %s not deleted through the API", uuid)


def remove_with_driver(srv: Server, uuids: list[str]) -> None:
    """Last resort after the server stopped: the driver's own idempotent removal."""
    remove_with_driver_of(srv.state_dir / "magna.conf", uuids)


def remove_with_driver_of(config: Path, uuids: list[str]) -> None:
    """The local swarm driver's idempotent removal, configured by ``config``."""
    if not uuids:
        return
    from magna import conf as magna_conf
    from magna.drivers.base import ClusterSpec
    from magna.drivers.local_swarm.driver import LocalSwarmDriver

    driver = LocalSwarmDriver(magna_conf.load([], [str(config)]))
    for uuid in uuids:
        spec = ClusterSpec(uuid=uuid, name="bench", project_id=None, coe="swarm-mode",
                           generation=1, template_uuid="", image_id="debian-12-docker",
                           labels={}, nodegroups=())
        for _ in range(5):
            try:
                if driver.delete(spec):
                    break
            except Exception as exc:  # keep going: the next try or the next cluster
                LOG.warning("bench: driver delete of %s: %s", uuid, exc)
            time.sleep(2)


@contextmanager
def fleet(srv: Server, timeout: float = 300) -> Iterator[Fleet]:
    """A ``Fleet`` on ``srv`` whose clusters are all gone when the block ends."""
    clusters = Fleet(srv, timeout)
    try:
        yield clusters
    finally:
        clusters.delete_all()
        clusters.http.close()
        remove_with_driver(srv, list(clusters.created))
