"""Which node leaves a swarm next when a cluster shrinks, without ever losing the raft quorum.

Pure rules over the manager's view of the swarm (``swarm.SwarmNode`` by id), so they are tested
without engines. A manager must be demoted before it leaves, one at a time, and only while the
managers that stay keep a reachable majority: demoting a reachable manager from three leaves two
of which both must answer. Workers go first (they are drained), then unreachable managers (losing
them costs no vote), then reachable ones, the raft leader last so leadership moves once at most.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from magna.drivers.local_swarm.swarm import SwarmNode


def majority(size: int) -> int:
    return size // 2 + 1


def managers(view: Mapping[str, SwarmNode]) -> list[SwarmNode]:
    return [node for node in view.values() if node.manager]


def safe_to_demote(view: Mapping[str, SwarmNode], hostname: str) -> bool:
    """True if the managers other than ``hostname`` still hold a reachable majority of
    themselves once it is demoted (and there is one left at all)."""
    rest = [node for node in managers(view) if node.hostname != hostname]
    reachable = sum(1 for node in rest if node.reachability == "reachable")
    return bool(rest) and reachable >= majority(len(rest))


def leaving_order(view: Mapping[str, SwarmNode], leaving: Iterable[str]) -> list[str]:
    """Hostnames in ``leaving`` in the order they should go: non-managers (workers, nodes that
    never joined), then unreachable managers, then reachable ones, the leader last."""
    by_host = {node.hostname: node for node in view.values()}

    def rank(hostname: str) -> tuple[int, str]:
        node = by_host.get(hostname)
        if node is None or not node.manager:
            return 0, hostname
        if node.reachability != "reachable":
            return 1, hostname
        return (3 if node.leader else 2), hostname

    return sorted(set(leaving), key=rank)


def next_to_leave(view: Mapping[str, SwarmNode], leaving: Iterable[str]) -> str | None:
    """The first node of ``leaving_order`` that can go now; None if every candidate is a
    manager whose demotion would lose the quorum."""
    by_host = {node.hostname: node for node in view.values()}
    for hostname in leaving_order(view, leaving):
        node = by_host.get(hostname)
        if node is None or not node.manager or safe_to_demote(view, hostname):
            return hostname
    return None
