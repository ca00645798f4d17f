"""The conductor's lease (``conductor/lease.py``) and the driver checkpoints it guards
(``drivers/fencing.py``), on a clock the test moves."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from magna.conductor.lease import Lease, lease_seconds
from magna.drivers import fencing


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_lease(seconds: float = 4.0) -> tuple[Lease, Clock]:
    clock = Clock()
    return Lease(seconds, clock), clock


def test_no_lease_before_the_first_heartbeat() -> None:
    lease, _ = make_lease()
    assert lease.term() is None


def test_a_heartbeat_buys_the_lease_from_when_it_began() -> None:
    lease, clock = make_lease(4.0)
    began = clock.now
    clock.now += 1.5  # the write took this long
    lease.renewed(began)
    term = lease.term()
    assert term is not None
    clock.now = began + 3.9
    assert lease.holds(term)
    clock.now = began + 4.0
    assert not lease.holds(term) and lease.term() is None


def test_renewals_in_time_keep_one_term() -> None:
    lease, clock = make_lease(4.0)
    lease.renewed(clock.now)
    term = lease.term()
    for _ in range(5):
        clock.now += 2.0
        lease.renewed(clock.now)
    assert lease.term() == term and term is not None and lease.holds(term)


def test_a_lapse_ends_the_term_even_when_a_later_heartbeat_renews() -> None:
    lease, clock = make_lease(4.0)
    lease.renewed(clock.now)
    old = lease.term()
    assert old is not None
    clock.now += 10.0  # the database stalled; another conductor may have taken over
    lease.renewed(clock.now)
    new = lease.term()
    assert new is not None and new != old
    assert not lease.holds(old) and lease.holds(new)


def test_a_beat_begun_in_time_but_written_after_the_lease_ran_out_ends_the_term() -> None:
    lease, clock = make_lease(4.0)
    lease.renewed(clock.now)
    old = lease.term()
    assert old is not None
    began = clock.now + 3.0
    clock.now += 5.0  # written 1 s after the lease ran out: the peers may have judged us dead
    lease.renewed(began)
    assert not lease.holds(old)


@pytest.mark.parametrize(("dead_after", "margin", "heartbeat", "ok"), [
    (6.0, 2.0, 2.0, True), (6.0, 4.0, 2.0, False), (3.0, 1.0, 0.5, True), (2.0, 2.0, 0.2, False)])
def test_settings_that_would_fence_a_healthy_conductor_are_refused(
        dead_after: float, margin: float, heartbeat: float, ok: bool) -> None:
    conductor = SimpleNamespace(dead_after=dead_after, fence_margin=margin,
                                heartbeat_interval=heartbeat)
    if ok:
        assert lease_seconds(conductor) == dead_after - margin  # type: ignore[arg-type]
    else:
        with pytest.raises(ValueError, match="must exceed heartbeat_interval"):
            lease_seconds(conductor)  # type: ignore[arg-type]


def test_a_checkpoint_raises_only_inside_a_guard_that_no_longer_holds() -> None:
    fencing.checkpoint()  # no guard: a driver used on its own
    holding = True
    with fencing.guarded(lambda: holding):
        fencing.checkpoint()
        holding = False
        with pytest.raises(fencing.Fenced):
            fencing.checkpoint()
    fencing.checkpoint()


def test_the_guard_is_per_thread() -> None:
    raised: list[bool] = []

    def other() -> None:
        try:
            fencing.checkpoint()
            raised.append(False)
        except fencing.Fenced:
            raised.append(True)

    with fencing.guarded(lambda: False):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert raised == [False]
