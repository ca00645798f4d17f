"""``python -m bench.inprocess``: CPU per request of the read endpoints, inside one process.

The API benchmark measures latency through real sockets with the load generator on the same
cores, so it cannot say where a request's CPU goes. This seeds a scratch SQLite database (or,
with ``--backend postgres``, a scratch PostgreSQL database, dropped afterwards), builds the app
with ``build_app`` and calls it as a bare ASGI application (no HTTP, no client), timing
``time.process_time`` (all threads, the thread pool included) and wall time per request;
``--profile DIR`` also writes a cProfile of each endpoint (the thread pool's work is not in
it: cProfile sees one thread). Numbers are in-process, not the benchmark's. On PostgreSQL the
wall time matters too: the server's own CPU and the round trips are not this process's.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import seed

HEADERS = [(b"host", b"bench"), (b"openstack-api-version", b"container-infra latest")]


def _app(state_dir: Path, url: str, clusters: int, templates: int) -> tuple[Any, list[str]]:
    from magna import conf as magna_conf
    from magna.cmd.api import build_app

    uuids = seed.seed(url, clusters, templates)
    conf = magna_conf.load([], [], overrides={
        "DEFAULT": {"state_dir": str(state_dir)},
        "database": {"connection": url, "auto_upgrade": False}})
    return build_app(conf), uuids


async def _get(app: Any, path: str, query: bytes) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query, "root_path": "", "headers": HEADERS,
             "client": ("127.0.0.1", 1), "server": ("bench", 80)}
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        status = message.get("status", status)

    await app(scope, receive, send)
    return status


async def _measure(app: Any, make: Callable[[int], tuple[str, bytes]], requests: int,
                   repeats: int, profile: Path | None) -> tuple[list[float], list[float]]:
    """Sorted CPU and wall milliseconds per request, one figure per repeat."""
    for i in range(20):  # warm caches: compiled statements, policy, imports
        status = await _get(app, *make(i))
        if status != 200:
            raise RuntimeError(f"{make(i)} answered {status}")
    cpu, wall = [], []
    for _ in range(repeats):
        started, clock = time.process_time(), time.perf_counter()
        for i in range(requests):
            await _get(app, *make(i))
        cpu.append((time.process_time() - started) * 1000 / requests)
        wall.append((time.perf_counter() - clock) * 1000 / requests)
    if profile is not None:
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(requests):
            await _get(app, *make(i))
        profiler.disable()
        profiler.dump_stats(profile)
    return sorted(cpu), sorted(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--templates", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", type=Path, help="write <endpoint>.prof files here")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="magna-inprocess-") as tmp, \
            seed.scratch_database(args.backend, Path(tmp)) as url:
        app, uuids = _app(Path(tmp), url, args.clusters, args.templates)
        endpoints: dict[str, Callable[[int], tuple[str, bytes]]] = {
            "GET /v1/clusters?limit=50": lambda i: ("/v1/clusters", b"limit=50"),
            "GET /v1/clusters/{id}": lambda i: (f"/v1/clusters/{uuids[i % len(uuids)]}", b""),
            "GET /v1/clustertemplates?limit=50": lambda i: ("/v1/clustertemplates",
                                                            b"limit=50"),
        }
        for name, make in endpoints.items():
            out = None
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                out = args.profile / (name.split()[1].strip("/").replace("/", "_")
                                      .replace("?", "_").replace("{id}", "id") + ".prof")
            cpu, wall = asyncio.run(_measure(app, make, args.requests, args.repeats, out))
            mid = len(cpu) // 2
            print(f"{name:36} ms/request: CPU min {cpu[0]:.2f} median {cpu[mid]:.2f}; "
                  f"wall min {wall[0]:.2f} median {wall[mid]:.2f} "
                  f"({args.repeats} x {args.requests})")


if __name__ == "__main__":
    main()
