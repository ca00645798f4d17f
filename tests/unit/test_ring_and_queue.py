"""The hash ring and the conductor's work queue."""

from __future__ import annotations

import threading
import time
import uuid

from magna.conductor.ring import HashRing
from magna.conductor.workqueue import WorkQueue

KEYS = [str(uuid.UUID(int=i)) for i in range(2000)]


def test_every_key_has_exactly_one_owner_among_the_hosts() -> None:
    ring = HashRing(["a", "b", "c"])
    owners = [ring.owner(k) for k in KEYS]
    assert set(owners) == {"a", "b", "c"}
    assert all(ring.owns(o, k) for o, k in zip(owners, KEYS, strict=True))
    assert min(owners.count(h) for h in "abc") > 400, "load is spread"


def test_a_dead_host_only_moves_its_own_keys() -> None:
    before = HashRing(["a", "b", "c"])
    after = HashRing(["a", "b"])
    for key in KEYS:
        if before.owner(key) != "c":
            assert after.owner(key) == before.owner(key)
        else:
            assert after.owner(key) in {"a", "b"}


def test_an_empty_ring_owns_nothing() -> None:
    assert HashRing([]).owner("x") is None


def test_items_are_deduplicated_and_delayed() -> None:
    queue = WorkQueue()
    queue.put("a")
    queue.put("a")
    queue.put("b", delay=0.3)
    assert queue.get(timeout=0.1) == "a"
    assert queue.get(timeout=0.05) is None, "b is not due yet and a is not queued twice"
    started = time.monotonic()
    assert queue.get(timeout=1) == "b"
    assert time.monotonic() - started >= 0.2


def test_an_item_is_never_handed_out_twice_at_once_but_runs_again() -> None:
    queue = WorkQueue()
    queue.put("a")
    assert queue.get(timeout=0.1) == "a"
    queue.put("a")
    assert queue.get(timeout=0.1) is None, "a is active"
    queue.done("a")
    assert queue.get(timeout=0.1) == "a", "the put during processing runs afterwards"


def test_close_wakes_waiting_workers() -> None:
    queue = WorkQueue()
    results: list[str | None] = []
    thread = threading.Thread(target=lambda: results.append(queue.get()))
    thread.start()
    time.sleep(0.1)
    queue.close()
    thread.join(timeout=2)
    assert results == [None]
