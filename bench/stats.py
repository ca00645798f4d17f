"""Summaries of timing samples: percentiles of latencies, median and spread of repeats."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile with linear interpolation between the closest ranks."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(latencies_s: Sequence[float], elapsed_s: float, errors: int
                    ) -> dict[str, Any]:
    """Requests per second and p50/p95/p99/max in milliseconds."""
    ms = [x * 1000 for x in latencies_s]
    return {
        "requests": len(ms), "errors": errors, "elapsed_s": round(elapsed_s, 3),
        "rps": round(len(ms) / elapsed_s, 1) if elapsed_s > 0 else None,
        "p50_ms": round(percentile(ms, 0.50), 2), "p95_ms": round(percentile(ms, 0.95), 2),
        "p99_ms": round(percentile(ms, 0.99), 2), "max_ms": round(max(ms), 2) if ms else None,
    }


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
