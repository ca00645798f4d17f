"""A de-duplicating delayed work queue of cluster UUIDs for the conductor's worker threads.

A UUID is never handed to two workers at once; one that is queued again while being processed
runs once more afterwards (a nudge may carry news the running pass did not see).
"""

from __future__ import annotations

import heapq
import threading
import time


class WorkQueue:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}
        self._active: set[str] = set()
        self._again: dict[str, float] = {}
        self._closed = False

    def put(self, item: str, delay: float = 0.0) -> None:
        due = time.monotonic() + max(delay, 0.0)
        with self._cond:
            if item in self._active:
                self._again[item] = min(due, self._again.get(item, due))
                return
            if item in self._due and self._due[item] <= due:
                return
            self._due[item] = due
            heapq.heappush(self._heap, (due, item))
            self._cond.notify()

    def get(self, timeout: float | None = None) -> str | None:
        """The next due item, marked active; None on timeout or when closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                item = self._pop_due()
                if item is not None:
                    return item
                wait = self._next_wait(deadline)
                if wait is not None and wait <= 0:
                    return None
                self._cond.wait(wait)
            return None

    def _pop_due(self) -> str | None:
        now = time.monotonic()
        while self._heap and self._heap[0][0] <= now:
            due, item = heapq.heappop(self._heap)
            if self._due.get(item) != due:
                continue  # superseded by an earlier entry
            del self._due[item]
            self._active.add(item)
            return item
        return None

    def _next_wait(self, deadline: float | None) -> float | None:
        now = time.monotonic()
        waits = [self._heap[0][0] - now] if self._heap else []
        if deadline is not None:
            waits.append(deadline - now)
        return min(waits) if waits else None

    def done(self, item: str) -> None:
        with self._cond:
            self._active.discard(item)
            again = self._again.pop(item, None)
        if again is not None:
            self.put(item, max(again - time.monotonic(), 0.0))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._due)
