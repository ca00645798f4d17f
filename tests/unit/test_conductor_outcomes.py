"""Driver calls and passes are counted under the outcome they ended with."""

from __future__ import annotations

from contextlib import nullcontext

import pytest

from magna.common.exceptions import PermanentError, TemporaryError
from magna.conductor.outcomes import PassOutcome, Step, timed_call, timed_pass
from magna.metrics import series


def _calls(outcome: str) -> float:
    value = series.CONDUCTOR.get_sample_value(
        "magna_driver_operation_duration_seconds_count",
        {"driver": "unit", "operation": "apply", "outcome": outcome})
    return value or 0.0


def _passes(outcome: str) -> float:
    value = series.CONDUCTOR.get_sample_value(
        "magna_conductor_reconcile_duration_seconds_count", {"outcome": outcome})
    return value or 0.0


@pytest.mark.parametrize(("error", "outcome"), [
    (None, "ok"), (TemporaryError("later", delay=1.0), "temporary"),
    (PermanentError("no"), "permanent"), (RuntimeError("bug"), "error")])
def test_a_driver_call_is_counted_by_how_it_ended(error: Exception | None, outcome: str) -> None:
    before = _calls(outcome)
    with pytest.raises(type(error)) if error else nullcontext(), timed_call("unit", "apply"):
        if error is not None:
            raise error
    assert _calls(outcome) == before + 1


def test_a_pass_that_raises_is_an_error_and_a_step_keeps_its_delay() -> None:
    before_error, before_waiting = _passes("error"), _passes("waiting")

    def broken() -> Step:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        timed_pass(broken)
    assert timed_pass(lambda: Step(2.5, PassOutcome.WAITING)) == 2.5
    assert (_passes("error"), _passes("waiting")) == (before_error + 1, before_waiting + 1)

