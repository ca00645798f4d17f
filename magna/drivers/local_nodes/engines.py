"""Bringing every engine of a cluster up: start those that do not run, a wave of ``START_WIDTH``
at a time, each wave answering before the next starts, and say which ones run with an outdated
configuration or certificates.

NOTE: waves, not all at once: an engine's start is about half a CPU second (dockerd,
containerd, a few dozen iptables calls in the node). A hundred started at once on two cores
drove the load average past 300 and every start, ping and join past its timeout; a wave's
starts still overlap their waits (the engine guard's scan, the engines' boot).

Restarting the outdated ones is left to the driver on purpose: how many may restart at once, and
what must happen around a restart (draining, waiting for the cluster to settle), is the
orchestrator's business. An engine that exits while we wait is retried; the third time in a row
it is a ``PermanentError`` carrying the end of its log, for the user to read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from magna.common import fanout, processes
from magna.common.exceptions import PermanentError, TemporaryError
from magna.drivers import fencing
from magna.drivers.local_nodes import engine, limits
from magna.drivers.local_nodes.node import LocalNode

MAX_EXITS = 3
# Engines started side by side (``fanout``) in one wave.
START_WIDTH = 10
# How often a starting engine is asked: a ping is one request on its unix socket (and none
# before the socket exists), and an engine answers about half a second after its start.
POLL_SECONDS = 0.05


def start_all(nodes: Sequence[LocalNode], *, start_timeout: float,
              stop_timeout: float) -> list[tuple[LocalNode, str]]:
    """Every engine runs and answers; returns (node, the hash it should have started with) of
    those that run an outdated configuration."""
    stale = []
    for first in range(0, len(nodes), START_WIDTH):
        wave = nodes[first:first + START_WIDTH]
        found = fanout.each(wave, lambda node: _start(node, start_timeout, stop_timeout),
                            width=START_WIDTH)
        wait(wave, {node.name: pid for node, (pid, _) in zip(wave, found, strict=True)},
             timeout=start_timeout)
        stale += [(node, want) for node, (_, want) in zip(wave, found, strict=True) if want]
    return stale


def _start(node: LocalNode, start_timeout: float, stop_timeout: float) -> tuple[int, str]:
    """The pid of the node's engine (started unless it runs), and the hash it should have
    started with when it runs an outdated configuration (else "")."""
    limits.ensure(node.engine.cgroup_parent, node.flavor)
    want = node.wanted_hash()
    pid = engine.pid_of(node.engine)
    if pid is not None and hung(node, start_timeout):
        engine.stop(node.engine, stop_timeout)
        pid = None
    if pid is None:
        return engine.start(node.engine, want), ""
    return pid, want if engine.started_hash(node.engine) != want else ""


def hung(node: LocalNode, start_timeout: float) -> bool:
    """Running for longer than it may take to start, yet not answering on its socket."""
    age = engine.seconds_since_start(node.engine)
    return age > start_timeout and not node.answers()


def wait(nodes: Sequence[LocalNode], pids: dict[str, int], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(nodes)
    while True:
        pending = [node for node in pending if not node.answers()]
        if not pending:
            for node in nodes:
                engine.reset_exits(node.engine)
            return
        for node in pending:
            if not processes.alive(pids[node.name]):
                exited(node)
        # NOTE: starting engines may take up to ``timeout``; a conductor whose heartbeat is
        # overdue stops waiting (a no-op in a helper thread, which no conductor guards).
        fencing.checkpoint()
        if time.monotonic() > deadline:
            raise TemporaryError(f"Waiting for the engines of "
                                 f"{', '.join(n.name for n in pending)} to start.", delay=2.0)
        time.sleep(POLL_SECONDS)


def exited(node: LocalNode) -> None:
    """An engine that exits on start is retried; the third time in a row it is a failure
    the user must look at (the reason carries the end of its log)."""
    tail = engine.log_tail(node.engine)
    if engine.record_exit(node.engine) >= MAX_EXITS:
        raise PermanentError(f"The engine of node {node.name} keeps exiting: {tail}")
    raise TemporaryError(f"The engine of node {node.name} exited; starting it again.",
                         delay=1.0)
