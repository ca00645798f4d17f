"""How a reconcile pass and a driver call ended, and their timing into the metrics.

The reconciler returns a ``Step`` from each branch of a pass (the delay after which to run
again, as before, and a ``PassOutcome``), so the outcome of a pass is said where it is decided
rather than guessed afterwards from the delay; ``timed_call`` wraps each driver call and names
its outcome from the error taxonomy. Both feed ``magna.metrics.series`` (docs/metrics.md).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from magna.common.exceptions import PermanentError, TemporaryError
from magna.metrics import series


class PassOutcome(enum.StrEnum):
    """How one reconcile pass ended (the ``outcome`` label of its duration)."""

    CONVERGED = "converged"  # the spec is realised; the cluster is *_COMPLETE
    DELETED = "deleted"  # the driver reported everything gone; the row went
    PROGRESSING = "progressing"  # the driver works on it; the pass runs again soon
    WAITING = "waiting"  # the driver waits for something (TemporaryError); runs again later
    FAILED = "failed"  # the cluster was recorded *_FAILED (driver error or timeout)
    IDLE = "idle"  # nothing to do (already realised, or a *_FAILED cluster waits for the user)
    SKIPPED = "skipped"  # another thread or conductor holds the cluster, or it was lost
    ERROR = "error"  # the pass itself raised; the sweep retries


class Step(NamedTuple):
    """Where a pass ended: seconds after which to run again (or None), and how."""

    delay: float | None
    outcome: PassOutcome


class CallOutcome(enum.StrEnum):
    """How one driver call ended (the ``outcome`` label of its duration)."""

    OK = "ok"
    TEMPORARY = "temporary"  # TemporaryError: call again later
    PERMANENT = "permanent"  # PermanentError: the cluster fails with the driver's reason
    ERROR = "error"  # any other exception (a driver bug)


def _call_outcome(exc: BaseException | None) -> CallOutcome:
    if exc is None:
        return CallOutcome.OK
    if isinstance(exc, TemporaryError):
        return CallOutcome.TEMPORARY
    return CallOutcome.PERMANENT if isinstance(exc, PermanentError) else CallOutcome.ERROR


@contextmanager
def timed_call(driver: str, operation: str) -> Iterator[None]:
    """Time one driver call: outcome ok, temporary, permanent (its errors) or error."""
    started = time.perf_counter()
    failure: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        failure = exc
        raise
    finally:
        series.DRIVER_SECONDS.labels(driver, operation, _call_outcome(failure)).observe(
            time.perf_counter() - started)


def timed_pass(run: Callable[[], Step]) -> float | None:
    """Run one pass and time it by its outcome (``error`` if it raised); its delay."""
    started = time.perf_counter()
    step = Step(None, PassOutcome.ERROR)
    try:
        step = run()
    finally:
        series.RECONCILE_SECONDS.labels(step.outcome).observe(time.perf_counter() - started)
    return step.delay
