"""Swarm-mode's own network driver (``docker``) on local nodes: overlay networks span nodes.

A template's ``network_driver docker`` promises what swarm-mode gives: an overlay network made
with ``docker network create -d overlay`` joins tasks on different nodes (VXLAN between the
engines, gossip on 7946, the data plane on UDP 4789, all on the cluster's bridge). This builds a
real 1 master + 1 worker cluster, runs one web task per node on an overlay network, and fetches
each task's page by its overlay address from a container on the master: the worker's answer can
only have crossed the overlay.
"""

from __future__ import annotations

import re
from pathlib import Path

from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.support.local_swarm import (  # noqa: F401 - the fixture
    NEEDS_ENGINES,
    TinyPKI,
    cleaned,
    converge,
    docker_cli,
    driver,
    make_spec,
)

pytestmark = NEEDS_ENGINES

IMAGE = "magna/busybox:latest"
# NOTE: each task serves its node's hostname, so the page says which node answered.
SERVE = "mkdir -p /w && hostname > /w/index.html && exec httpd -f -p 8080 -h /w"
# NOTE: nc rather than wget: this static busybox's wget crashes in its resolver code.
FETCH = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 "$1" 8080'


def test_an_overlay_network_joins_tasks_on_two_nodes(driver: LocalSwarmDriver,  # noqa: F811
                                                     tmp_path: Path) -> None:
    master, worker = make_spec().nodegroups
    spec, pki = make_spec(nodegroups=(master, worker.__class__(
        **{**worker.__dict__, "node_count": 1}))), TinyPKI()
    with cleaned(driver, spec.uuid):
        observed = converge(driver, spec, pki)
        assert observed.api_address is not None

        def cli(*args: str) -> str:
            return docker_cli(pki, str(observed.api_address), tmp_path, *args)

        cli("network", "create", "-d", "overlay", "--attachable", "ov")
        cli("service", "create", "--detach", "--name", "web", "--network", "ov", "--mode",
            "global", "--hostname", "{{.Node.Hostname}}", IMAGE, "sh", "-c", SERVE)
        addresses = _task_addresses(cli, want=2)
        pages = sorted(cli("run", "--rm", "--network", "ov", IMAGE, "sh", "-c", FETCH,
                           "fetch", address).strip().splitlines()[-1] for address in addresses)
        assert pages == ["t-default-master-0", "t-default-worker-0"]


def _task_addresses(cli: object, *, want: int) -> list[str]:
    """The overlay addresses of the web service's tasks, as swarm's DNS gives them
    (``tasks.web``), once ``want`` tasks run."""
    import time

    assert callable(cli)
    deadline = time.monotonic() + 60
    found: list[str] = []
    while time.monotonic() < deadline:
        # NOTE: A records only: swarm's DNS leaves AAAA questions unanswered, and busybox's
        # nslookup (asking both by default) then reports no server reachable.
        # (a name without tasks yet goes to the node's own DNS, which times out: no error)
        out = cli("run", "--rm", "--network", "ov", IMAGE, "sh", "-c",
                  "nslookup -type=a tasks.web 127.0.0.11 || true")
        # the server's line ends in its port (127.0.0.11:53), the answers' in an address
        found = sorted(set(re.findall(r"^Address:\s*(\d+\.\d+\.\d+\.\d+)\s*$", out,
                                      flags=re.MULTILINE)))
        if len(found) == want:
            return found
        time.sleep(1)
    raise AssertionError(f"tasks.web has {found}, not {want} tasks")
