"""Summaries of timing samples: median and spread of repeats, targets met or missed."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def spread(samples_s: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of repeated measurements (seconds), with the samples themselves."""
    if not samples_s:
        return {"n": 0, "median_s": None, "min_s": None, "max_s": None, "samples_s": []}
    return {"n": len(samples_s), "median_s": round(statistics.median(samples_s), 3),
            "min_s": round(min(samples_s), 3), "max_s": round(max(samples_s), 3),
            "samples_s": [round(x, 3) for x in samples_s]}


def target(name: str, value: float | None, limit: float, unit: str) -> dict[str, Any]:
    """One target to report against: met, missed, or not measured."""
    met = None if value is None else value < limit
    return {"name": name, "value": value, "limit": limit, "unit": unit, "met": met}
