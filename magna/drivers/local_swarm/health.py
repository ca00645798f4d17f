"""The swarm's view of a cluster's health: what ``observe``, ``apply`` and ``heal`` report.

A node is healthy when its engine answers (the node layer's ``Node.answers``), a manager lists
it Ready and with the availability its taints ask for and, for a master, as a reachable manager;
otherwise its reason says which of these failed. The cluster is converged when every node the
spec asks for is healthy, no stray remains and the API address is served (by the load balancer
when there is one).

``settle`` looks until converged or a deadline; ``with_first_notes`` adds, on the first
convergence only (``notices.FirstNotes``), what the user must know about this host: no IPVS, and
which image runs without the internet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import docker
import requests

from magna.drivers import fencing
from magna.drivers.base import ClusterSpec, NodeStatus, Observed
from magna.drivers.local_nodes import balancer, engine, host, image, ssh
from magna.drivers.local_nodes.cluster import LocalNodes
from magna.drivers.local_nodes.node import LocalNode, Node
from magna.drivers.local_swarm import swarm
from magna.drivers.local_swarm.forming import Access
from magna.drivers.local_swarm.profile import NodeProfile, by_node

OBSERVE_TIMEOUT = 5.0
# Seconds between looks while the nodes become Ready (a look lists the swarm and pings each
# node's engine on its unix socket).
SETTLE_POLL = 0.2
# Seconds a node may stay ``down`` in the swarm after its engine started before healing
# restarts that engine again.
STUCK_AFTER = 30.0
IPVS_NOTE = ("This host's kernel has no IPVS, which Swarm's ingress routing mesh and "
             "virtual-IP service load balancing need: the swarm has no ingress network. "
             "Publish ports with --publish mode=host and use --endpoint-mode dnsrr for "
             "services (see docs/local-driver.md).")


@dataclass(frozen=True)
class Health:
    """One cluster as its engines and a reachable manager see it."""

    spec: ClusterSpec
    nodes: LocalNodes
    access: Access

    def settle(self, members: Sequence[LocalNode], wait: float) -> Observed:
        """Look until the cluster converged or ``wait`` seconds passed."""
        if not members:
            return Observed(converged=False)
        deadline = time.monotonic() + wait
        while True:
            observed = self.look(members)
            if observed.converged or time.monotonic() >= deadline:
                return observed
            # NOTE: waiting for Ready may take up to ``wait``: a conductor whose heartbeat
            # is overdue stops here rather than report what another may now be changing.
            fencing.checkpoint()
            time.sleep(SETTLE_POLL)

    def look(self, members: Sequence[LocalNode]) -> Observed:
        version = ""
        view: dict[str, swarm.SwarmNode] = {}
        found = self.access.manager(members, OBSERVE_TIMEOUT)
        if found is not None:
            client, view = found
            with contextlib.closing(client), contextlib.suppress(
                    docker.errors.DockerException, requests.RequestException):
                version = swarm.versions(client)
        strays = self.nodes.strays(self.spec, members[0].net.allocation)
        profiles = by_node(self.spec, [*members, *strays])
        statuses = [_status(node, node.answers(), view, profiles) for node in members]
        # NOTE: a worker auto-healing is replacing counts until it is gone, so a replacement
        # interrupted by a crash is noticed (and finished) by the next health observation.
        retired = self.nodes.retired(self.spec.uuid)
        statuses += [dataclasses.replace(_status(node, False, view, profiles), healthy=False,
                                         reason="being replaced")
                     for node in strays if node.name in retired]
        api = self._api_address(members)
        return Observed(
            converged=not strays and all(status.healthy for status in statuses)
            and len(members) == sum(ng.node_count for ng in self.spec.nodegroups if ng.present)
            and api is not None,
            api_address=api, stack_id=self.spec.uuid,
            coe_version=version or None, container_version=version or None, nodes=statuses)

    def _api_address(self, members: Sequence[LocalNode]) -> str | None:
        """The masters' API; none while the load balancer is down (the health says so and
        healing starts it again)."""
        if balancer.balanced(self.spec):
            if balancer.pid_of(self.nodes.balancer(self.spec, members)) is None:
                return None
            return f"tcp://{members[0].net.allocation.gateway}:{engine.PORT}"
        master = next((node for node in members if node.role == "master"), members[0])
        return f"tcp://{master.address}:{engine.PORT}"

    def with_first_notes(self, observed: Observed) -> Observed:
        """``observed`` with the notes told once per cluster, on its first convergence."""
        notes = self.nodes.first_notes(self.spec.uuid)
        if not observed.converged or notes.told():
            return observed
        told = [] if host.has_ipvs() else [IPVS_NOTE]
        allocation = self.nodes.allocation(self.spec.uuid)
        told.append(image.note(self.nodes.registry(self.spec.uuid, allocation).image
                               if self.spec.registry_enabled and allocation else None))
        notes.mark_told()
        return dataclasses.replace(observed, notes=told)


def _status(node: LocalNode, answers: bool, view: dict[str, swarm.SwarmNode],
            profiles: Mapping[str, NodeProfile]) -> NodeStatus:
    problems = problems_of(node, answers, view, profiles[node.name].availability)
    problems += [found for found in (ssh.problem(node),) if found and answers]
    return NodeStatus(name=node.name, nodegroup=node.nodegroup, role=node.role,
                      address=node.address, healthy=not problems, reason="; ".join(problems))


def problems_of(node: Node, answers: bool, view: dict[str, swarm.SwarmNode],
                availability: str) -> list[str]:
    """Why a node is not healthy (none: it is)."""
    entries = [seen for seen in view.values() if seen.hostname == node.hostname]
    seen = next((entry for entry in entries if entry.state == "ready"),
                entries[0] if entries else None)
    problems = [] if answers else ["engine not answering"]
    if not view:
        problems.append("no manager answers")
    elif seen is None:
        problems.append("not in the swarm")
    else:
        # NOTE: a tainted node is healthy while paused or drained, as its taints ask.
        if seen.state != "ready" or seen.availability != availability:
            problems.append(f"{seen.state} {seen.availability} {seen.message}".strip())
        if node.role == "master" and seen.reachability != "reachable":
            problems.append(f"manager {seen.reachability or 'not a manager'}")
    return problems


def stuck(answers: bool, reason: str, seconds_since_start: float) -> bool:
    """An engine that answers but whose node the swarm still lists ``down`` long after the
    engine started: it came back without re-establishing its session with the managers (seen
    after a manager's engine was killed and restarted under load), and only another restart
    brings it back."""
    return answers and "down" in reason.split() and seconds_since_start > STUCK_AFTER
