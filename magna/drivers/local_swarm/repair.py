"""``heal`` for a swarm of local nodes: restart dead (or stuck) engines, bring them back into the
swarm, restart the master load balancer, and with ``auto_healing_enabled`` replace workers that
stay unhealthy.

The node layer restarts engines (``LocalNodes.restart_dead``, the analog of systemd's
``Restart=always`` on a VM) and keeps the list of nodes being replaced (``healing.py``); what is
swarm here is deciding who is sick, from the swarm's view (``health.py``), rejoining, and
replacing a worker by applying the spec again, which creates the new node and retires the old
one through the ordinary scale-down path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import docker
import requests

from magna.common.exceptions import TemporaryError
from magna.drivers.base import NodeStatus, Observed
from magna.drivers.local_nodes import balancer, engine, healing
from magna.drivers.local_nodes.node import LocalNode
from magna.drivers.local_swarm import forming
from magna.drivers.local_swarm.health import Health, stuck


@dataclass(frozen=True)
class Repair:
    health: Health
    apply: Callable[[], Observed]  # the driver's apply of this spec
    ready_wait: float

    def run(self, members: Sequence[LocalNode]) -> Observed:
        nodes, spec = self.health.nodes, self.health.spec
        seen = {status.name: status for status in self.health.look(members).nodes}
        force = [node.name for node in members if node.name in seen and stuck(
            node.answers(), seen[node.name].reason, engine.seconds_since_start(node.engine))]
        restarted, failed = nodes.restart_dead(members, force=force)
        notes = _restart_notes(members, restarted, failed, force)
        # NOTE: while a new raft leader is being elected nobody can rejoin a node; the next
        # observation heals again, and what was restarted is reported now.
        with contextlib.suppress(TemporaryError, docker.errors.DockerException,
                                 requests.RequestException):
            forming.form(self.health.access, [n for n in members if n.name not in failed])
        if balancer.balanced(spec) and balancer.ensure(nodes.balancer(spec, members)):
            notes.append("Healing: restarted the master load balancer.")
        observed = self.health.settle(members, self.ready_wait if restarted else 0.0)
        if healing.auto_healing(spec) and not restarted and any(
                status.name not in failed for status in _sick(observed)):
            # NOTE: a worker may look unhealthy for a moment (a new raft leader lists nodes
            # "unknown" until they report in); only one that stays so is replaced.
            observed = self.health.settle(members, self.ready_wait)
        observed, replaced = self._replace_sick(observed, members)
        return dataclasses.replace(observed, notes=[*observed.notes, *notes, *replaced])

    def _replace_sick(self, observed: Observed, members: Sequence[LocalNode]
                      ) -> tuple[Observed, list[str]]:
        nodes, spec = self.health.nodes, self.health.spec
        sick, notes = _sick(observed), []
        if sick and healing.auto_healing(spec):
            nodes.retire(spec.uuid, [status.name for status in sick])
            notes += [f"Auto-healing: replacing worker {status.name} ({status.reason})."
                      for status in sick]
        if nodes.retired(spec.uuid):
            observed = self._reapply()
            old = {node.name for node in members}
            notes += [f"Auto-healing: node {status.name} joined at {status.address}."
                      for status in observed.nodes if status.name not in old]
        return observed, notes

    def _reapply(self) -> Observed:
        """Apply until the retired nodes' replacements joined and the old ones are gone."""
        deadline = time.monotonic() + 2 * self.health.nodes.settings.engine_start_timeout
        while True:
            try:
                observed = self.apply()
                if observed.converged or time.monotonic() > deadline:
                    return observed
            except TemporaryError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(1.0)


def _sick(observed: Observed) -> list[NodeStatus]:
    return [status for status in observed.nodes if not status.healthy and status.role != "master"]


def _restart_notes(members: Sequence[LocalNode], restarted: Sequence[str],
                   failed: Sequence[str], stuck_: Sequence[str]) -> list[str]:
    notes = [f"Healing: restarted the engine of node {name}, which the swarm still listed "
             f"down." if name in stuck_ else f"Healing: restarted the dead engine of node "
             f"{name}." for name in restarted]
    return notes + [f"Healing: the engine of node {name} does not stay up: "
                    f"{engine.log_tail(node.engine, 2)}" for node in members for name in failed
                    if node.name == name]
