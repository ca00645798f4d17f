"""Room in the kernel's IPv4 neighbour (ARP) table for every node on this host.

The neighbour table is one table for the whole kernel: the entries of every network namespace
count against the limits the host's own namespace sets (``net.ipv4.neigh.default.gc_thresh2``
and ``gc_thresh3``; no other namespace can set its own). Past ``gc_thresh3`` (1,024 by default)
the kernel refuses new entries: a connection to an address it cannot resolve fails with "No
route to host" or times out, and ``dmesg`` says "neighbor table overflow". Past ``gc_thresh2``
it throws out every entry idle for five seconds, again and again.

A cluster's nodes share one bridge, and every node may talk to every other and to its gateway;
an orchestrator whose members gossip (each with every other, given a minute) makes that the
normal case. So a cluster of ``n`` nodes may hold ``n`` entries in each node plus ``n`` on the
host's bridge: ``n * (n + 1)``. Measured on this kernel: a 1+49 cluster held 2,550 and never
formed with the defaults (connects from the host to nodes timing out minute after minute); a
1+99 cluster held 10,100 (20,000 with the permanent entries of the nodes' overlay networks,
which do not count against the limits).

``ensure_room`` raises the two limits (never lowers them: another program on the host may
need what an operator set) so that the worst case of every cluster on this host fits, before
a cluster's nodes are built. What counts is read from the host (the node namespaces there, by
cluster) plus the cluster being built, so clusters of any state directory or driver count.
The read-compare-write runs under the host-wide lock of ``network.locked``, so two conductors
never write a lower value over a higher one.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from magna.common.exceptions import PermanentError
from magna.drivers.local_nodes import network

LOG = logging.getLogger(__name__)
SYSCTL = "/proc/sys/net/ipv4/neigh/default"
# NOTE: entries the host keeps besides the clusters' (its uplinks' neighbours, other bridges).
HEADROOM = 1024


@dataclass(frozen=True, order=True)
class Limits:
    """``gc_thresh2`` (``soft``: above it idle entries are thrown out) and ``gc_thresh3``
    (``hard``: above it new entries are refused)."""

    soft: int
    hard: int


def worst_case(sizes: Iterable[int]) -> int:
    """Entries the clusters of ``sizes`` nodes each may hold at once (every node resolving
    every other node and the gateway, the host every node)."""
    return sum(n * (n + 1) for n in sizes)


def wanted(current: Limits, need: int) -> Limits:
    """The limits that leave ``need`` entries room below the soft limit and the hard limit
    twice that (the kernel's own ratio); a limit already higher stays."""
    soft = need + HEADROOM
    return Limits(soft=max(current.soft, soft), hard=max(current.hard, 2 * soft))


def cluster_sizes(namespaces: Iterable[str], short: str, planned: int) -> list[int]:
    """Nodes per cluster on this host: the node namespaces (``magna-<short id>-<node>``) by
    cluster, with the cluster being built (``short``) counted at its ``planned`` size."""
    counted = Counter(name.split("-")[1] for name in namespaces
                      if name.startswith("magna-") and name.count("-") >= 2)
    counted[short] = planned
    return [count for count in counted.values() if count > 0]


def read() -> Limits | None:
    """The host's limits; None where this process cannot see them (not the host's namespace)."""
    try:
        return Limits(soft=_read("gc_thresh2"), hard=_read("gc_thresh3"))
    except (FileNotFoundError, ValueError):
        return None


def _read(name: str) -> int:
    with open(os.path.join(SYSCTL, name)) as handle:
        return int(handle.read().strip())


def _write(name: str, value: int) -> None:
    with open(os.path.join(SYSCTL, name), "w") as handle:
        handle.write(f"{value}\n")


def ensure_room(*, run_root: str, short: str, planned: int) -> None:
    """The host's limits fit every cluster on it, the one being built at ``planned`` nodes."""
    with network.locked(run_root):
        current = read()
        if current is None:
            LOG.warning("The kernel's neighbour table limits are not visible here; a cluster "
                        "of more than about 30 nodes on this host may not form.")
            return
        target = wanted(current, worst_case(cluster_sizes(_namespaces(), short, planned)))
        if target != current:
            _raise(current, target)


def _raise(current: Limits, target: Limits) -> None:
    # NOTE: hard first, so soft never stands above hard, not even between the two writes.
    try:
        if target.hard != current.hard:
            _write("gc_thresh3", target.hard)
        if target.soft != current.soft:
            _write("gc_thresh2", target.soft)
    except OSError as exc:
        raise PermanentError(
            f"This host's neighbour table is too small for its clusters and could not be "
            f"enlarged ({exc.strerror}); the operator sets net.ipv4.neigh.default.gc_thresh2 "
            f"to at least {target.soft} and gc_thresh3 to {target.hard}.") from None
    LOG.info("Neighbour table limits raised from %s/%s to %s/%s for this host's clusters",
             current.soft, current.hard, target.soft, target.hard)


def _namespaces() -> list[str]:
    return os.listdir(network.NS_DIR) if os.path.isdir(network.NS_DIR) else []
