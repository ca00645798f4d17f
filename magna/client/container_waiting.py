"""Following a container request to its end: the engine's answer is recorded, or it is gone.

Create, the actions and delete answer at once with the document the API stored; the conductor
then asks the engine and records its answer, which moves ``updated_at`` (nothing else does).
So ``follow`` polls until ``updated_at`` differs from the one the request answered with and the
status is no longer a passing one, or, for a delete, until the container is gone (404). The
recorded status is the engine's truth: a container whose command exits at once ends ``Stopped``
with its exit code, which is an answer, not a failure. ``Error`` raises ``OperationFailed`` with
the engine's reason; the deadline raises ``WaitTimeout`` (each with the CLI's exit code).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from magna.client import errors
from magna.client.models import Client, Container

GONE = "Deleted"
ERROR = "Error"
PASSING = ("Creating", "Deleting")


@dataclass(frozen=True)
class Step:
    status: str
    reason: str
    exit_code: int | None
    host: str
    elapsed: float
    settled: bool


def follow(client: Client, ident: str, *, since: str | None, gone: bool, timeout: float,
           interval: float = 1.0, clock: Callable[[], float] = time.monotonic
           ) -> Iterator[Step]:
    """Yield a ``Step`` per poll, the last one settled; ``since`` is the answer's
    ``updated_at``."""
    start = clock()
    while True:
        step = _poll(client, ident, since=since, gone=gone, elapsed=clock() - start)
        yield step
        if step.settled:
            if step.status == ERROR:
                raise errors.OperationFailed(f"Container {ident} is in Error: "
                                             f"{step.reason or 'no reason given'}")
            return
        if step.elapsed >= timeout:
            why = f": {step.reason}" if step.reason else "."
            raise errors.WaitTimeout(f"Container {ident} is still {step.status} after "
                                     f"{step.elapsed:.0f}s{why}")
        time.sleep(interval)


def _poll(client: Client, ident: str, *, since: str | None, gone: bool,
          elapsed: float) -> Step:
    try:
        container = client.containers.get(ident)
    except errors.NotFound:
        if not gone:
            raise
        return Step(GONE, "", None, "", elapsed, settled=True)
    return step_of(container, since=since, elapsed=elapsed, gone=gone)


def step_of(container: Container, *, since: str | None, elapsed: float,
            gone: bool = False) -> Step:
    """One poll's view; when waiting for a delete only a 404 settles it."""
    attrs = container.attrs
    status = str(attrs.get("status") or "Unknown")
    recorded = not gone and attrs.get("updated_at") != since
    return Step(status=status, reason=str(attrs.get("status_reason") or ""),
                exit_code=attrs.get("exit_code"), host=str(attrs.get("host") or ""),
                elapsed=elapsed, settled=recorded and status not in PASSING)
