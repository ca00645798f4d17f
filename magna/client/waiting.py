"""Following a cluster operation to its end: poll, report progress, decide success or failure.

``follow`` yields a ``Progress`` per poll and stops after the terminal one: ``*_COMPLETE``
(except ``ROLLBACK_COMPLETE``, an update that did not happen) or, when waiting for a delete, the
cluster gone (404). ``*_FAILED`` raises ``OperationFailed`` and the deadline ``WaitTimeout``, both
carrying the last ``Progress`` so a caller can show the reason and the cluster's events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from magna.client import errors
from magna.client.models import Client, Cluster

GONE = "DELETE_COMPLETE"


@dataclass(frozen=True)
class Progress:
    status: str
    reason: str
    health: str
    ready: int
    expected: int
    elapsed: float

    @property
    def done(self) -> bool:
        return self.status.endswith("_COMPLETE") and self.status != "ROLLBACK_COMPLETE"

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED") or self.status == "ROLLBACK_COMPLETE"


class Stopped(errors.ClientError):
    """Base of the two ways a wait ends badly; ``progress`` is the last poll."""

    def __init__(self, message: str, progress: Progress) -> None:
        super().__init__(message)
        self.progress = progress


class OperationFailed(Stopped, errors.OperationFailed):
    pass


class WaitTimeout(Stopped, errors.WaitTimeout):
    pass


def follow(client: Client, ident: str, *, gone: bool, timeout: float, interval: float = 1.0,
           clock: Callable[[], float] = time.monotonic) -> Iterator[Progress]:
    start = clock()
    while True:
        progress = _poll(client, ident, gone=gone, elapsed=clock() - start)
        yield progress
        if progress.failed:
            raise OperationFailed(f"Cluster {ident} is {progress.status}: "
                                  f"{progress.reason or 'no reason given'}", progress)
        if progress.done and (gone == (progress.status == GONE)):
            return
        if progress.elapsed >= timeout:
            raise WaitTimeout(f"Cluster {ident} is still {progress.status} after "
                              f"{progress.elapsed:.0f}s.", progress)
        time.sleep(interval)


def _poll(client: Client, ident: str, *, gone: bool, elapsed: float) -> Progress:
    try:
        cluster = client.clusters.get(ident)
    except errors.NotFound:
        if not gone:
            raise
        return Progress(GONE, "", "", 0, 0, elapsed)
    return progress_of(cluster, elapsed)


def progress_of(cluster: Cluster, elapsed: float) -> Progress:
    attrs = cluster.attrs
    return Progress(status=str(attrs.get("status") or "UNKNOWN"),
                    reason=str(attrs.get("status_reason") or ""),
                    health=str(attrs.get("health_status") or ""),
                    ready=cluster.nodes_ready, expected=cluster.nodes_expected, elapsed=elapsed)
