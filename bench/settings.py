"""What one run measures: sizes and counts, full or ``--quick``, overridable from the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

LIFECYCLE_SIZES = ((1, 1), (1, 2), (3, 2), (1, 9))
QUICK_SIZES = ((1, 1), (1, 2))


@dataclass
class Settings:
    quick: bool = False
    out: Path = Path("bench/results")
    work: Path = Path("/tmp/magna-bench")
    # API
    backends: tuple[str, ...] = ("sqlite", "postgres")
    clusters: int = 10_000
    templates: int = 1_000
    seconds: float = 10.0  # API: how long each scenario runs (after a 1 s warm-up)
    workers: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    worker_threads: int | None = None  # API: [api] worker_threads (None: the server's default)
    concurrencies: tuple[int, ...] = (1, 16)
    profile: bool = False
    # lifecycle
    sizes: tuple[tuple[int, int], ...] = LIFECYCLE_SIZES
    repeat: int = 3
    scale_steps: tuple[int, ...] = (1, 5, -1)
    # cost
    cost_clusters: int = 1_000
    cost_workers: tuple[int, ...] = (1, 3, 5, 9)
    # concurrency
    parallel: int = 20
    # scale: one cluster of 1 master and this many workers
    scale_workers: int = 99
    scale_timeout: float = 900.0
    # hand-over and chaos
    chaos_seconds: float = 600.0
    chaos_seed: int = 18

    @classmethod
    def quick_defaults(cls) -> Settings:
        return cls(quick=True, clusters=200, templates=20, seconds=2.0, repeat=1,
                   sizes=QUICK_SIZES, scale_steps=(1, -1), cost_clusters=100,
                   cost_workers=(1, 2), parallel=3, scale_workers=9,
                   chaos_seconds=90.0)
