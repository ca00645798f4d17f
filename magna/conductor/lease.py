"""How long this conductor may still act as a live one: its lease, renewed by each heartbeat.

Other conductors take a conductor's clusters once its heartbeat is ``dead_after`` seconds old.
A conductor cannot see that moment come from their side, but it knows when it *began* its last
heartbeat that got written, and the timestamp in that row is no earlier. So it holds a lease of
``dead_after - fence_margin`` seconds from that beginning, on its own monotonic clock: while the
lease holds, nobody may yet think it dead; once it lapses (the database stalled, the heartbeat
thread starved, the process was paused), it must not start or continue driver work, and
``fence_margin`` is the time a driver step already under way has to reach its next checkpoint.

A lapse ends a *term*. A pass remembers the term in which it reserved its cluster and stops when
the term is over, even if a later heartbeat renewed the lease: by then another conductor may
have taken the cluster, and only a fresh reservation (compare-and-swap in the database) says
whether it did.

NOTE: the lease is measured on this host's monotonic clock and the peers judge by wall-clock
timestamps in the database; conductors on several machines need their clocks in step (NTP) to
within well under ``fence_margin``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from oslo_config import cfg


def lease_seconds(conductor: cfg.ConfigOpts.GroupAttr) -> float:
    """The lease a heartbeat buys; refuse settings under which a healthy conductor fences
    itself between two of its own heartbeats."""
    seconds = float(conductor.dead_after) - float(conductor.fence_margin)
    if seconds <= float(conductor.heartbeat_interval):
        raise ValueError(
            f"[conductor] dead_after ({conductor.dead_after}) minus fence_margin "
            f"({conductor.fence_margin}) must exceed heartbeat_interval "
            f"({conductor.heartbeat_interval}), or a conductor would stop driving its clusters "
            f"between two of its own heartbeats.")
    return seconds


class Lease:
    """The lease of one conductor process; ``renewed`` after each written heartbeat."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._expires = -math.inf
        self._term = 0

    def renewed(self, began: float) -> None:
        """A heartbeat begun at ``began`` (``clock()`` before its transaction) is written."""
        with self._lock:
            if self.clock() >= self._expires:
                self._term += 1  # it lapsed, even if only while this beat was being written
            self._expires = began + self.seconds

    def term(self) -> int | None:
        """The current term while the lease holds; None once it has lapsed."""
        with self._lock:
            return self._term if self.clock() < self._expires else None

    def holds(self, term: int) -> bool:
        """Whether the lease has held without a lapse since ``term`` began."""
        with self._lock:
            return term == self._term and self.clock() < self._expires
