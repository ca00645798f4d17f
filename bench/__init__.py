"""Magna's benchmark suite: API latency, cluster lifecycle times, cost, concurrency.

Benchmarks report; they never fail a build on a missed target. ``python -m bench`` runs them
(see ``bench/__main__.py``), writes one JSON file per run under ``bench/results`` and regenerates
``docs/performance.md`` with its charts from the newest result of each suite.
"""
