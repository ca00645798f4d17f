"""``python -m bench [--quick] [--only SUITE] [--out DIR]``: run benchmarks, write JSON, report.

One JSON file per run (``<out>/run-<timestamp>.json``) holds the machine's facts and every
suite's results; ``docs/performance.md`` and its charts are then regenerated from the newest
result of each suite found in ``<out>``. Missed targets are reported, never an error exit.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.settings import Settings

SUITES = ("api", "upstream", "lifecycle", "cost", "concurrency", "kubernetes", "scale", "handover",
          "chaos")


def _suite(name: str) -> Callable[[Settings], dict[str, Any]]:
    from bench import (
        api,
        chaos,
        concurrency,
        cost,
        handover,
        kubernetes,
        lifecycle,
        scale,
        upstream,
    )

    runners: dict[str, Callable[[Settings], dict[str, Any]]] = {
        "api": api.run, "upstream": upstream.run, "lifecycle": lifecycle.run, "cost": cost.run,
        "concurrency": concurrency.run, "kubernetes": kubernetes.run, "scale": scale.run,
        "handover": handover.run, "chaos": chaos.run}
    return runners[name]


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    """``1+1,1+2`` -> ((1, 1), (1, 2)): masters + workers."""
    pairs = [part.split("+") for part in text.split(",") if part]
    return tuple((int(m), int(w)) for m, w in pairs)


def parse(argv: list[str] | None = None) -> tuple[Settings, list[str], Path]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="Small sizes and one repetition (a smoke run, not reference).")
    parser.add_argument("--only", action="append", choices=SUITES,
                        help="Run only this suite (repeatable).")
    parser.add_argument("--out", type=Path, default=Path("bench/results"),
                        help="Directory for the JSON results (default bench/results).")
    parser.add_argument("--report", type=Path, default=Path("docs/performance.md"),
                        help="Markdown report to regenerate; its charts go beside it.")
    parser.add_argument("--no-report", action="store_true", help="Write JSON only.")
    parser.add_argument("--work", type=Path, help="Scratch directory for state dirs.")
    parser.add_argument("--backends", help="API: comma-separated sqlite,postgres.")
    parser.add_argument("--clusters", type=int, help="API: clusters to seed.")
    parser.add_argument("--templates", type=int, help="API: templates to seed.")
    parser.add_argument("--seconds", type=float, help="API: how long each scenario runs.")
    parser.add_argument("--workers", type=int, help="API: [api] workers.")
    parser.add_argument("--worker-threads", type=int, help="API: [api] worker_threads.")
    parser.add_argument("--profile", action="store_true",
                        help="API: sample a worker with py-spy during concurrent scenarios.")
    parser.add_argument("--sizes", type=_sizes, help="Lifecycle: e.g. 1+1,1+2,3+2.")
    parser.add_argument("--repeat", type=int, help="Lifecycle: repetitions per measurement.")
    parser.add_argument("--scale-steps", help="Lifecycle: e.g. 1,5,-1 (empty: none).")
    parser.add_argument("--parallel", type=int, help="Concurrency: clusters created at once.")
    parser.add_argument("--scale-workers", type=int,
                        help="Scale: workers of the one large cluster (default 99).")
    parser.add_argument("--chaos-seconds", type=float,
                        help="Chaos: how long faults are injected (default 600, quick 90).")
    parser.add_argument("--chaos-seed", type=int, help="Chaos: the random seed (default 18).")
    args = parser.parse_args(argv)
    settings = Settings.quick_defaults() if args.quick else Settings()
    overrides: dict[str, Any] = {"out": args.out, "profile": args.profile}
    for name in ("clusters", "templates", "seconds", "workers", "worker_threads", "sizes",
                 "repeat", "parallel", "work", "scale_workers", "chaos_seconds", "chaos_seed"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.backends:
        overrides["backends"] = tuple(args.backends.split(","))
    if args.scale_steps is not None:
        overrides["scale_steps"] = tuple(int(x) for x in args.scale_steps.split(",") if x)
    report_path = Path("/dev/null") if args.no_report else args.report
    return replace(settings, **overrides), list(args.only or SUITES), report_path


def main(argv: list[str] | None = None) -> Path:
    settings, suites, report_path = parse(argv)
    settings.out.mkdir(parents=True, exist_ok=True)
    settings.work.mkdir(parents=True, exist_ok=True)
    run: dict[str, Any] = {"machine": machine.facts(), "quick": settings.quick,
                           "settings": json.loads(json.dumps(asdict(settings), default=str)),
                           "suites": {}}
    stamp = run["machine"]["timestamp"].replace(":", "").replace("+0000", "Z")
    path = settings.out / f"run-{stamp}.json"
    for name in suites:
        print(f"bench: {name} ...", flush=True)
        started = time.monotonic()
        try:
            run["suites"][name] = _suite(name)(settings)
        except Exception as exc:  # a broken suite is reported; the others still run
            run["suites"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        run["suites"][name]["duration_s"] = round(time.monotonic() - started, 1)
        path.write_text(json.dumps(run, indent=2) + "\n")
        print(f"bench: {name} done in {run['suites'][name]['duration_s']}s", flush=True)
    if str(report_path) != "/dev/null":
        report.write(settings.out, report_path)
        print(f"bench: report {report_path}")
    print(f"bench: results {path}")
    return path


if __name__ == "__main__":
    main()
