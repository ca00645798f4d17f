"""A bounded async HTTP load generator: N requests spread over C concurrent clients.

Every run stops after ``requests`` requests or ``max_seconds``, whichever comes first; latency
is measured per request on the client (so it includes the client's own overhead, on the same
cores as the server).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.stats import latency_summary

HEADERS = {"OpenStack-API-Version": "container-infra latest"}


@dataclass
class Scenario:
    """One kind of request: ``make(i)`` gives (method, path, json body or None) for request i."""

    name: str
    make: Callable[[int], tuple[str, str, Any]]
    expect: int = 200
    failures: list[str] = field(default_factory=list)


async def _run(base_url: str, scenario: Scenario, concurrency: int, requests: int,
               max_seconds: float, warmup: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    errors = 0
    counter = iter(range(warmup + requests))
    async with httpx.AsyncClient(base_url=base_url, headers=HEADERS, limits=limits,
                                 timeout=60) as client:
        for _ in range(warmup):  # warm connections, caches and the workers' imports
            method, path, body = scenario.make(next(counter))
            await client.request(method, path, json=body)
        deadline = time.perf_counter() + max_seconds

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                method, path, body = scenario.make(i)
                started = time.perf_counter()
                response = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code != scenario.expect:
                    errors += 1
                    if len(scenario.failures) < 3:
                        scenario.failures.append(f"{response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"concurrency": concurrency, **latency_summary(latencies, elapsed, errors)}


def run(base_url: str, scenario: Scenario, concurrency: int, requests: int,
        max_seconds: float = 60.0, warmup: int = 5) -> dict[str, Any]:
    return asyncio.run(_run(base_url, scenario, concurrency, requests, max_seconds, warmup))
