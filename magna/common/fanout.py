"""One piece of work for each of many nodes, side by side, failing as a loop would.

A cluster's nodes are built, started, joined and given images one by one in a loop, and on a
host with two cores most of each step is waiting: on ``ip`` and other programs, on an engine
starting, on a manager admitting a node. ``each`` runs the steps of up to ``width`` nodes at
once in threads. It keeps what callers of the loop relied on: results come back in the items'
order, and when steps fail the error raised is the one the loop would have met first (the
earliest item's), after every started step has ended, so nothing runs on behind the caller's
back. Unlike the loop it does not stop at the first failure: the other steps are idempotent
and would be done on the next pass anyway.

``meanwhile`` runs one piece of work beside a block (a cluster's images are imported while its
swarm forms) with the same promise: it has ended when the block is left, and the block's own
error wins over the background one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def each(items: Sequence[T], work: Callable[[T], R], *, width: int) -> list[R]:
    """``work(item)`` for every item, at most ``width`` at once; the results in order."""
    if width <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(width, len(items))) as pool:
        futures = [pool.submit(work, item) for item in items]
    # NOTE: leaving the block waited for all of them; the first failure in order wins.
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return [future.result() for future in futures]


@contextlib.contextmanager
def meanwhile(work: Callable[[], object]) -> Iterator[None]:
    """Run ``work()`` in a thread while the block runs; wait for it when the block ends and
    raise its error, unless the block raised (then that error, after ``work`` ended)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(work)
        try:
            yield
        finally:
            error = future.exception()  # NOTE: waits, even when the block raised
    if error is not None:
        raise error
