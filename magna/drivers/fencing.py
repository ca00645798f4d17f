"""Checkpoints at which a driver call stops when its conductor may no longer drive the cluster.

A driver call (``apply``, ``delete``, ``heal``) can run for many seconds. If the conductor that
made it stops heartbeating meanwhile (a stalled database, a paused process), another conductor
takes the cluster over after ``[conductor] dead_after``; two of them must never drive one
cluster at once. Threads cannot be stopped from outside, so the conductor guards each pass with
a test (its lease, ``conductor/lease.py``) and drivers call ``checkpoint()`` before each step
that changes something: past the lease it raises ``Fenced`` and the call unwinds. A step in
flight finishes; ``[conductor] fence_margin`` is how long that may take.

The guard is per thread, set by the conductor around its own call; outside a guard (a driver
used on its own) ``checkpoint()`` does nothing. A driver's helper threads do not inherit it:
checkpoints belong in the thread that called the driver, between its steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from magna.common.exceptions import TemporaryError

_guard = threading.local()


class Fenced(TemporaryError):
    """The conductor's lease lapsed: stop driving this cluster (the pass is tried again)."""

    def __init__(self) -> None:
        super().__init__("This conductor's heartbeat is overdue; it stopped driving the "
                         "cluster so that another may take over.", delay=1.0)


@contextmanager
def guarded(holds: Callable[[], bool]) -> Iterator[None]:
    """Inside, ``checkpoint()`` in this thread raises ``Fenced`` once ``holds()`` is False."""
    outer = getattr(_guard, "holds", None)
    _guard.holds = holds
    try:
        yield
    finally:
        _guard.holds = outer


def holding() -> bool:
    """Whether this thread's conductor may still drive the cluster (True outside a guard)."""
    holds = getattr(_guard, "holds", None)
    return holds is None or bool(holds())


def checkpoint() -> None:
    """Raise ``Fenced`` if this thread's conductor may no longer drive the cluster."""
    if not holding():
        raise Fenced()
