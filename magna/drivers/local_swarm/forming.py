"""Making a swarm of a cluster's nodes and keeping it the shape the spec asks for: init on
master 0, joins, labels and availability, and nodes leaving on scale-down.

Every operation goes through a manager that answers with a quorum (the leader first,
``swarm.find_manager``), so the cluster is managed while master 0 is down. Nodes are used through
the node layer's ``Node`` interface (name, role, address, hostname, stopping the engine); the
node layer does the rest of a removal (``LocalNodes.remove_node``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import docker
import requests

from magna.common import fanout
from magna.common.exceptions import TemporaryError
from magna.drivers.local_nodes import host, pki
from magna.drivers.local_nodes.node import LocalNode, Node
from magna.drivers.local_swarm import leaving, profile, quorum, swarm

# Workers joining at once (``fanout``): a join waits for the manager to admit the node.
JOIN_WIDTH = 8


@dataclass(frozen=True)
class Access:
    """How the driver reaches a cluster's engines: the admin client's files (None: plain TCP)
    and how long a call may take."""

    files: pki.CertFiles | None
    timeout: float

    def client(self, node: Node, timeout: float | None = None) -> docker.DockerClient:
        return swarm.connect(node.address, self.files, timeout or self.timeout)

    def manager(self, nodes: Sequence[Node], timeout: float | None = None
                ) -> tuple[docker.DockerClient, dict[str, swarm.SwarmNode]] | None:
        """A client for a reachable manager (the raft leader if it answers) and its view."""
        masters = [node.address for node in nodes if node.role == "master"]
        return swarm.find_manager(lambda address: swarm.connect(
            address, self.files, timeout or self.timeout), masters)


def form(access: Access, nodes: Sequence[Node]) -> None:
    """Every node is in the swarm: master 0 starts it if no manager answers, the others join."""
    found = access.manager(nodes)
    if found is None:
        _init(access, nodes)
        found = access.manager(nodes)
        if found is None:
            raise TemporaryError("The new swarm's manager does not answer yet.", delay=1.0)
    leader, known = found
    with contextlib.closing(leader):
        listed = {entry.hostname for entry in known.values()}
        if not host.has_ipvs() and any(node.hostname not in listed for node in nodes):
            # NOTE: before nodes join, so none builds its sandbox; a pass that adds no node
            # asks nothing
            swarm.drop_ingress(leader)
        address = next((n.address for n in known.values() if n.leader), "")
        tokens = swarm.tokens(leader)

        def join(node: Node) -> None:
            token = tokens["Manager" if node.role == "master" else "Worker"]
            _join(access, node, leader, _Leader(address or nodes[0].address, token, known))

        # NOTE: managers one at a time (each changes the raft's quorum), workers side by side.
        for node in nodes:
            if node.role == "master":
                join(node)
        fanout.each([node for node in nodes if node.role != "master"], join, width=JOIN_WIDTH)


def _init(access: Access, nodes: Sequence[Node]) -> None:
    """No manager answers with a quorum: master 0 starts the swarm, but only if no master
    is in one (otherwise the swarm lost its quorum, and a new one would split it)."""
    masters = [node for node in nodes if node.role == "master"]
    if not masters:
        raise TemporaryError("No master's engine answers; the swarm waits for one.",
                             delay=2.0)
    for node in masters:
        with contextlib.closing(access.client(node)) as client:
            if swarm.membership(client).state != "inactive":
                raise TemporaryError(f"No manager of the swarm answers with a quorum "
                                     f"(node {node.name} is in the swarm); waiting for "
                                     f"its managers.", delay=2.0)
    with contextlib.closing(access.client(masters[0])) as client:
        swarm.init(client, masters[0].address)


@dataclass(frozen=True)
class _Leader:
    address: str
    token: str
    known: dict[str, swarm.SwarmNode]


def _join(access: Access, node: Node, leader: docker.DockerClient, to: _Leader) -> None:
    with contextlib.closing(access.client(node)) as client:
        member = swarm.membership(client)
        if member.state == "active" and member.node_id in to.known:
            return
        if member.state == "pending":
            raise swarm.join_failed(node.name, to.address, "still trying to reach it")
        if member.state != "inactive":
            swarm.leave(client)  # in a swarm the leader does not know, or in error
        # NOTE: an entry with this hostname belongs to the node's former self (its data
        # was lost); it would stay "Down" in `docker node ls` forever. Only the leader's
        # listing says whether there is one: asking it again per node grew with the square.
        if any(known.hostname == node.hostname for known in to.known.values()):
            swarm.forget(leader, node.hostname)
        try:
            swarm.join(client, address=node.address, manager_address=to.address,
                       token=to.token)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            raise swarm.join_failed(node.name, to.address, str(exc)) from None


def apply_profiles(access: Access, nodes: Sequence[Node],
                   profiles: Mapping[str, profile.NodeProfile]) -> None:
    """Labels and availability of every node (idempotent: only differences are written)."""
    found = access.manager(nodes)
    if found is None:
        raise TemporaryError("No manager answers; node labels wait.", delay=2.0)
    client, _ = found
    with contextlib.closing(client):
        profile.apply(client, {node.hostname: profiles[node.name] for node in nodes})


def retire(access: Access, nodes: Sequence[LocalNode], strays: Sequence[LocalNode], *,
           drain_timeout: float, remove: Callable[[LocalNode], None]) -> None:
    """Scale-down (and auto-healing's replacements): nodes the spec no longer wants go one
    at a time in ``quorum.next_to_leave`` order: a worker is drained, a manager demoted
    first (never while that would lose the quorum). Then its engine is killed, the manager
    forgets it, and ``remove`` (the node layer) takes its namespace and files and, last, its
    slot, so a crash anywhere in between repeats the (idempotent) removal.

    NOTE: no ``docker swarm leave`` on the node and no graceful stop: its engine and data are
    destroyed right after, and the two waited 5 s (the leave's agent shutdown, up to our
    client's timeout) and 1.8 s (dockerd's shutdown) of every scale-down by one node. The
    manager's ``node rm --force`` is what the swarm needs; the drain has moved the tasks.
    """
    left = {node.hostname: node for node in strays}
    while left:
        # NOTE: a manager that stays does the work, so a leaving leader is not asked to
        # demote itself; only when none answers, a leaving one does.
        found = access.manager(nodes) or access.manager([*nodes, *left.values()])
        if found is None:
            raise TemporaryError("No manager answers; the scale-down waits.", delay=2.0)
        client, view = found
        with contextlib.closing(client):
            hostname = quorum.next_to_leave(view, left)
            if hostname is None:
                raise TemporaryError(f"Demoting a manager now would lose the swarm's "
                                     f"quorum; waiting ({', '.join(sorted(left))}).",
                                     delay=2.0)
            node = left.pop(hostname)
            leaving.prepare(client, hostname, drain_timeout)
            node.stop_engine(0.0)
            swarm.forget(client, node.hostname)
            remove(node)
