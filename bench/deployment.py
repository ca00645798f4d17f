"""Magna as an operator deploys it, for the hand-over and chaos benchmarks: ``magna-api`` and
several ``magna-conductor`` processes on a scratch PostgreSQL database and the host's RabbitMQ.

The conductors keep the DEFAULT timings (heartbeat, ``dead_after``, sweep): those are what the
hand-over target is about. Each deployment gets its own state directory and its own subnet pool,
so its clusters never meet those of another run on the host; the database is dropped when the
block ends, after every cluster was deleted (through the API, then through the driver).

``host_leftovers`` lists what a cluster left on the host (processes, namespaces, links, mounts,
iptables rules, state directories), found the way the functional tests' host checks find it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench import clusters
from bench.load import HEADERS
from magna.db import migrate
from magna.drivers.local_nodes import engine, network
from tests.support import backing
from tests.support.processes import Deployment

LOG = logging.getLogger(__name__)
BROKER = "amqp://guest:guest@127.0.0.1:5672//"


def _run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=False).stdout


@dataclasses.dataclass
class Running:
    """A started deployment, a client of its API, and every cluster the bench asked for."""

    deploy: Deployment
    http: httpx.Client
    created: list[str] = dataclasses.field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.deploy.root / "state"


@contextlib.contextmanager
def deployment(work: Path, name: str, conductors: int, pool: str) -> Iterator[Running]:
    """An API and ``conductors`` conductors, started; when the block ends, the processes are
    stopped, whatever of the created clusters is left on the host is removed through the
    driver, and the database is dropped."""
    backing.ensure_rabbitmq()
    root = work / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    root.mkdir(parents=True)
    with backing.postgres_database() as url:
        migrate.upgrade(url)
        common: dict[str, dict[str, object]] = {
            "database": {"auto_upgrade": False},
            "conductor": {"transport_url": BROKER},
            "local_swarm": {"subnet_pool": pool}}
        deploy = Deployment(root, url, common)
        running: Running | None = None
        try:
            deploy.start_api()
            for index in range(conductors):
                deploy.start_conductor(f"conductor-{index}")
            with httpx.Client(base_url=deploy.api_url, headers=HEADERS, timeout=30) as http:
                running = Running(deploy, http)
                yield running
        finally:
            deploy.stop_all()
            if running is not None:
                remove_with_driver(deploy, [uuid for uuid in running.created
                                            if host_leftovers(running.state_dir, uuid)])


def create(running: Running, name: str, workers: int, template: str) -> str | None:
    """Ask for a 1+``workers`` cluster; its UUID, or None if the API did not accept it."""
    response = running.http.post("/v1/clusters", json={
        "name": name, "cluster_template_id": template, "node_count": workers})
    if response.status_code != 202:
        LOG.warning("bench: create %s: %s %s", name, response.status_code, response.text)
        return None
    uuid = str(response.json()["uuid"])
    running.created.append(uuid)
    return uuid


def swarm_template(http: httpx.Client) -> str:
    response = http.post("/v1/clustertemplates", json={
        "name": "bench-swarm", "coe": "swarm-mode", "image_id": "debian-12-docker",
        "external_network_id": "public", "flavor_id": "m1.small",
        "master_flavor_id": "m1.small"})
    response.raise_for_status()
    return str(response.json()["uuid"])


def namespaces(cluster_uuid: str) -> list[str]:
    prefix = f"magna-{network.short_id(cluster_uuid)}-"
    return [line.split()[0] for line in _run("ip", "netns", "list").splitlines()
            if line.startswith(prefix)]


def remove_with_driver(deploy: Deployment, uuids: list[str]) -> None:
    """Last resort once the processes stopped: the local swarm driver's idempotent delete."""
    config = next(iter(sorted(deploy.root.glob("conductor-*.conf"))))
    clusters.remove_with_driver_of(config, uuids)


def host_leftovers(state_dir: Path, cluster_uuid: str) -> dict[str, Any]:
    """What of one cluster is still on the host, by kind; empty when nothing is."""
    short = network.short_id(cluster_uuid)
    found: dict[str, Any] = {
        "namespaces": namespaces(cluster_uuid),
        "links": [link for link in os.listdir("/sys/class/net") if short in link],
        "iptables": [line for tool in ("iptables", "ip6tables")
                     for line in _run(tool, "-w", "-S").splitlines() if short in line],
        "processes": sorted(engine.processes_using(f"/run/magna/{short}", cluster_uuid)),
        "run_dir": os.path.exists(f"/run/magna/{short}"),
        "state_dirs": [str(p) for p in state_dir.glob(f"**/{cluster_uuid}")],
    }
    with open("/proc/self/mountinfo") as handle:
        found["mounts"] = [line.split()[4] for line in handle
                           if cluster_uuid in line or f"/run/magna/{short}" in line]
    return {kind: value for kind, value in found.items() if value}
