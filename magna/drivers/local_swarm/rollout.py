"""Rolling engine restarts: an upgrade or a CA rotation changes what running engines must have
started with, and this restarts them a few at a time so the cluster keeps serving.

Which engines must restart is recomputed on every pass from the hash each engine started with
(``engine.started_hash``) against the one it should have, so a pass interrupted mid-rollout
simply continues on the next one. Order: managers first, one at a time, each only while the
other managers keep the raft quorum (a single manager cannot, and restarts anyway); then
workers in batches of ``max_batch_size``. For each batch::

    drain (swarm availability)  ->  restart engines  ->  engines answer, rejoin, manager sees
    them Ready  ->  availability restored (``active``, or what the nodegroup's taints say)

A drain left behind by an interrupted pass is undone by ``profile.apply`` on the next pass.

The rollout talks to engines over their unix sockets, not TLS: during a CA rotation the engines
not yet restarted still trust only the old CA, while the driver's client certificate is new.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import docker
import requests

from magna.common import processes
from magna.common.exceptions import TemporaryError
from magna.drivers import fencing
from magna.drivers.local_nodes import engine
from magna.drivers.local_nodes.node import LocalNode
from magna.drivers.local_swarm import swarm
from magna.drivers.local_swarm.profile import DRAIN

LOG = logging.getLogger(__name__)
POLL = 0.5
DRAIN_WAIT = 30.0
_ERRORS = (docker.errors.DockerException, requests.RequestException)


@dataclass(frozen=True)
class Member:
    """One node as the rollout sees it: its engine, the hash it must run with, its role, and
    the availability to give it back."""

    name: str
    manager: bool
    engine: engine.EngineSpec
    config_hash: str
    availability: str


def member(node: LocalNode, config_hash: str, availability: str) -> Member:
    return Member(name=node.name, manager=node.role == "master", engine=node.engine,
                  config_hash=config_hash, availability=availability)


def batches(members: Sequence[Member], max_batch_size: int) -> list[list[Member]]:
    """Managers alone, in order, then workers ``max_batch_size`` (at least 1) at a time."""
    size = max(1, max_batch_size)
    workers = [m for m in members if not m.manager]
    return ([[m] for m in members if m.manager]
            + [workers[i:i + size] for i in range(0, len(workers), size)])


def quorum_kept(managers: int, others_ready: int) -> bool:
    """Whether restarting one of ``managers`` leaves a raft majority among the others."""
    return managers == 1 or others_ready >= managers // 2 + 1


class Rollout:
    def __init__(self, *, stop_timeout: float, ready_timeout: float,
                 call_timeout: float) -> None:
        self.call_timeout = call_timeout
        self.stop_timeout = stop_timeout
        self.ready_timeout = ready_timeout

    def run(self, stale: Sequence[Member], managers: Sequence[Member],
            max_batch_size: int) -> list[list[str]]:
        """Restart every member of ``stale``; ``managers`` are all the cluster's managers
        (those to ask about the swarm). Returns the batches, by name, in the order done."""
        done = []
        for batch in batches(stale, max_batch_size):
            fencing.checkpoint()  # NOTE: a rollout can take minutes; each batch changes nodes
            self._batch(batch, managers)
            done.append([m.name for m in batch])
        return done

    def _batch(self, batch: list[Member], managers: Sequence[Member]) -> None:
        names = {m.name for m in batch}
        others = [m for m in managers if m.name not in names and engine.ping(m.engine)]
        via = others[0] if others else batch[0]
        ids = {m.name: self._node_id(m) for m in batch}
        with contextlib.closing(self.connect(via)) as client:
            known = _known(client)
            ready_before = {i for i, n in known.items() if n.state == "ready"} - set(ids.values())
            if batch[0].manager and ids[batch[0].name] in known:
                self._check_quorum(batch[0], ids[batch[0].name], reachability(client))
            for member in batch:
                if ids[member.name] in known:
                    set_availability(client, ids[member.name], DRAIN)
            self._wait_drained(client, [ids[m.name] for m in batch if ids[m.name] in known])
        fencing.checkpoint()  # NOTE: the drain may have waited; the restart changes the nodes
        LOG.info("Restarting the engines of %s", ", ".join(sorted(names)))
        pids = {}
        for member in batch:
            engine.stop(member.engine, self.stop_timeout)
            pids[member.name] = engine.start(member.engine, member.config_hash)
        self._wait_ready(batch, via, ids, pids)
        self._wait_settled(via, ready_before)

    def connect(self, member: Member) -> docker.DockerClient:
        client = docker.DockerClient(base_url=f"unix://{member.engine.socket}",
                                     version=swarm.API_VERSION, timeout=int(self.call_timeout))
        client.api.trust_env = False
        return client

    def _node_id(self, member: Member) -> str:
        with contextlib.closing(self.connect(member)) as client:
            seen = swarm.membership(client)
        return seen.node_id if seen.state == "active" else ""

    @staticmethod
    def _check_quorum(member: Member, node_id: str, managers: dict[str, bool]) -> None:
        others = sum(1 for other, reachable in managers.items() if other != node_id and reachable)
        if not quorum_kept(len(managers), others):
            raise TemporaryError(f"Waiting to restart the engine of {member.name}: the other "
                                 f"managers would not keep a quorum.", delay=5.0)

    def _wait_drained(self, client: docker.DockerClient, node_ids: list[str]) -> None:
        """Bounded: tasks that refuse to stop do not block the rollout forever."""
        deadline = time.monotonic() + DRAIN_WAIT
        while node_ids and time.monotonic() < deadline:
            tasks = client.api.tasks(filters={"node": node_ids})
            if not any(t.get("Status", {}).get("State") == "running" for t in tasks):
                return
            time.sleep(POLL)

    def _wait_ready(self, batch: list[Member], via: Member, ids: dict[str, str],
                    pids: dict[str, int]) -> None:
        """Until each restarted engine answers, is back in the swarm by its own account, and a
        manager lists it Ready; then give it its availability back."""
        deadline = time.monotonic() + self.ready_timeout
        pending = list(batch)
        while pending:
            pending = [m for m in pending if not self._back(m, via, ids[m.name], pids[m.name])]
            if pending and time.monotonic() > deadline:
                raise TemporaryError(f"Waiting for {', '.join(m.name for m in pending)} to "
                                     f"be Ready after an engine restart.", delay=2.0)
            if pending:
                time.sleep(POLL)

    def _wait_settled(self, via: Member, ready_before: set[str]) -> None:
        """Until the manager lists Ready again every other node that was Ready before the batch
        (after a manager restart, the others are ``unknown`` until their next heartbeat): the
        next batch starts from a swarm as healthy as this one found it."""
        deadline = time.monotonic() + self.ready_timeout
        while ready_before:
            with contextlib.suppress(*_ERRORS), contextlib.closing(self.connect(via)) as client:
                known = swarm.nodes(client)
                if all(i in known and known[i].state == "ready" for i in ready_before):
                    return
            if time.monotonic() > deadline:
                raise TemporaryError("Waiting for the swarm to settle after an engine restart.",
                                     delay=2.0)
            time.sleep(POLL)

    def _back(self, member: Member, via: Member, node_id: str, pid: int) -> bool:
        if not engine.ping(member.engine):
            if not processes.alive(pid):
                raise TemporaryError(f"The engine of {member.name} exited after a restart.",
                                     delay=1.0)
            return False
        try:
            with contextlib.closing(self.connect(member)) as client:
                if node_id and swarm.membership(client).state != "active":
                    return False
            if not node_id:
                return True  # never was in the swarm: joining is the next phase's job
            with contextlib.closing(self.connect(via)) as client:
                seen = swarm.nodes(client).get(node_id)
                if seen is None or seen.state != "ready":
                    return False
                set_availability(client, node_id, member.availability)
                LOG.info("%s is Ready again (%s)", member.name, member.availability)
                return True
        except _ERRORS:
            return False  # a restarted manager answers before it has a leader again


def _known(client: docker.DockerClient) -> dict[str, swarm.SwarmNode]:
    """The swarm's nodes as this manager sees them; none before the swarm exists."""
    if not swarm.membership(client).manager:
        return {}
    return swarm.nodes(client)


def reachability(client: docker.DockerClient) -> dict[str, bool]:
    """Every manager's id and whether raft reaches it (the node's ``Ready`` state is the
    dispatcher's view, which a new leader rebuilds only as heartbeats arrive)."""
    return {str(node.attrs.get("ID", "")):
            node.attrs.get("ManagerStatus", {}).get("Reachability") == "reachable"
            for node in client.nodes.list(filters={"role": "manager"})}


def set_availability(client: docker.DockerClient, node_id: str, availability: str) -> None:
    node = client.nodes.get(node_id)
    spec = dict(node.attrs.get("Spec", {}))
    if spec.get("Availability") != availability:
        node.update({**spec, "Availability": availability})
