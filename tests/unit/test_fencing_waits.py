"""The node layer's and the swarm driver's long waits stop at once when the conductor's lease
lapsed (``drivers/fencing.py``): a conductor that resumed after a pause must not wait out a
20 s settle or an engine start on a cluster another conductor may now drive."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest

from magna.drivers import fencing
from magna.drivers.base import Observed
from magna.drivers.local_nodes import engines
from magna.drivers.local_swarm.health import Health

LOOKS: list[float] = []


class NeverReady(Health):
    """A cluster whose nodes never become Ready; each look is recorded in ``LOOKS``."""

    def look(self, members: Any) -> Observed:
        LOOKS.append(time.monotonic())
        return Observed(converged=False)


def test_waiting_for_engines_stops_when_the_lease_lapsed() -> None:
    node = SimpleNamespace(name="worker-0", answers=lambda: False)
    started = time.monotonic()
    with fencing.guarded(lambda: False), pytest.raises(fencing.Fenced):
        engines.wait(cast(Any, [node]), {"worker-0": os.getpid()}, timeout=60)
    assert time.monotonic() - started < 5


def test_waiting_for_engines_goes_on_while_the_lease_holds() -> None:
    answers = iter([False, False, True])
    node = SimpleNamespace(name="worker-0", answers=lambda: next(answers),
                           engine=SimpleNamespace(node_dir="/nonexistent"))
    with fencing.guarded(lambda: True):
        engines.wait(cast(Any, [node]), {"worker-0": os.getpid()}, timeout=60)
    assert next(answers, "done") == "done"  # asked until it answered


def test_settling_stops_when_the_lease_lapsed() -> None:
    health = NeverReady(spec=cast(Any, None), nodes=cast(Any, None), access=cast(Any, None))
    LOOKS.clear()
    started = time.monotonic()
    with fencing.guarded(lambda: False), pytest.raises(fencing.Fenced):
        health.settle(cast(Any, [object()]), wait=60)
    assert len(LOOKS) == 1 and time.monotonic() - started < 5
