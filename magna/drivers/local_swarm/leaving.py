"""Getting a node out of a swarm gracefully before its engine and namespace are removed.

A manager is demoted first (its raft vote goes while the others can still agree; the caller has
checked with ``quorum.next_to_leave`` that they can), and every leaving node is drained so the
swarm reschedules its tasks elsewhere before the node disappears. Both waits are bounded: a node
whose engine is already dead has nothing to drain, and its demotion only needs the managers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import docker
import requests

from magna.common.exceptions import TemporaryError
from magna.drivers.local_swarm import swarm

DRAIN_WAIT = 20.0


def prepare(client: docker.DockerClient, hostname: str, timeout: float) -> None:
    """Demote ``hostname`` if it is a manager, then drain it."""
    entries = [node for node in swarm.nodes(client).values() if node.hostname == hostname]
    if any(node.manager for node in entries):
        swarm.set_role(client, hostname, role="worker")
        if not _wait(lambda: not any(node.manager for node in _entries(client, hostname)),
                     timeout):
            raise TemporaryError(f"The demotion of {hostname} is not done yet.", delay=2.0)
    if entries:
        swarm.set_role(client, hostname, availability="drain")
        _wait(lambda: sum(swarm.running_tasks(client, node.node_id)
                          for node in _entries(client, hostname)) == 0, DRAIN_WAIT)


def _entries(client: docker.DockerClient, hostname: str) -> list[swarm.SwarmNode]:
    return [node for node in swarm.nodes(client).values() if node.hostname == hostname]


def _wait(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except (docker.errors.DockerException, requests.RequestException):
            pass  # a leader election after a demotion makes the managers briefly refuse
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
