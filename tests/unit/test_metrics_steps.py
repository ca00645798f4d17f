"""A driver step is timed once per run, also when it raises (magna/metrics/series.py)."""

from __future__ import annotations

import pytest

from magna.metrics import series


def _count(driver: str, step: str) -> float:
    for sample in series.DRIVER_STEP_SECONDS.collect()[0].samples:
        if sample.name.endswith("_count") and sample.labels == {"driver": driver,
                                                                  "step": step}:
            return sample.value
    return 0.0


def test_a_step_is_counted_when_it_ends_and_when_it_raises() -> None:
    before = _count("unit", "build")
    with series.timed_step("unit", "build"):
        pass
    with pytest.raises(ValueError), series.timed_step("unit", "build"):
        raise ValueError("the step failed")
    assert _count("unit", "build") == before + 2
