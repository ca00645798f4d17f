"""API throughput and latency on a seeded database, with the API in its production shape.

For each backend: seed clusters and templates through the ORM, start ``magna-api`` with
``[api] workers`` processes (no conductor: reads do not need one), then measure template
create, cluster list (limit 50 and 1000) and cluster show at each concurrency.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench import load, seed, server
from bench.settings import Settings
from bench.stats import target


def scenarios(cluster_uuids: list[str], tag: str) -> list[load.Scenario]:
    template = json.dumps({
        "name": f"bench-{tag}-{{n}}", "coe": "swarm-mode", "image_id": "debian-12-docker",
        "external_network_id": "public", "flavor_id": "m1.small",
        "master_flavor_id": "m1.small", "labels": {"bench": "true"}})
    shown = random.Random(7).sample(cluster_uuids, min(len(cluster_uuids), 2000))
    return [
        load.Scenario("template_create", "POST", ("/v1/clustertemplates",), template,
                      expect=201),
        load.Scenario("cluster_list_50", "GET", ("/v1/clusters?limit=50",)),
        load.Scenario("cluster_list_1000", "GET", ("/v1/clusters?limit=1000",)),
        load.Scenario("cluster_show", "GET", tuple(f"/v1/clusters/{u}" for u in shown)),
    ]


def _profile(srv: server.Server, scenario: load.Scenario, settings: Settings,
             concurrency: int) -> str | None:
    """Sample one API worker with py-spy while the scenario runs again; the top frames."""
    spy = shutil.which("py-spy")
    pids = srv.worker_pids()
    if spy is None or not pids:
        return None
    out = settings.out / f"profile-{scenario.name}-c{concurrency}.txt"
    seconds = str(max(1, round(settings.seconds)))
    with subprocess.Popen([spy, "record", "--pid", str(pids[0]), "--format", "raw", "--output",
                           str(out), "--duration", seconds, "--nonblocking"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        load.run(srv.url, scenario, concurrency, settings.seconds)
        proc.terminate()
    return str(out) if out.exists() else None


def run_backend(settings: Settings, backend: str) -> dict[str, Any]:
    state_dir = Path(tempfile.mkdtemp(prefix=f"api-{backend}-", dir=settings.work))
    try:
        with seed.scratch_database(backend, state_dir) as url:
            uuids = seed.seed(url, settings.clusters, settings.templates)
            extra: dict[str, dict[str, object]] = {"database": {"auto_upgrade": False}}
            if settings.worker_threads is not None:
                extra["api"] = {"worker_threads": settings.worker_threads}
            with server.running(state_dir, serve=False, db_url=url, workers=settings.workers,
                                extra=extra) as srv:
                results = []
                for scenario in scenarios(uuids, backend):
                    for concurrency in settings.concurrencies:
                        result = load.run(srv.url, scenario, concurrency, settings.seconds)
                        if settings.profile and concurrency > 1:
                            result["profile"] = _profile(srv, scenario, settings, concurrency)
                        results.append({"scenario": scenario.name, **result})
                rss = srv.rss_mib()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return {"backend": backend, "clusters": settings.clusters, "templates": settings.templates,
            "workers": settings.workers, "worker_threads": settings.worker_threads,
            "results": results, "rss_mib_after": rss,
            "targets": _targets(results)}


def _targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def value(name: str, concurrency: int, key: str) -> float | None:
        found = [r[key] for r in results if r["scenario"] == name
                 and r["concurrency"] == concurrency]
        return found[0] if found else None

    return [target("cluster show p50 at c=1", value("cluster_show", 1, "p50_ms"), 5, "ms"),
            target("cluster list 50 p99 at c=16", value("cluster_list_50", 16, "p99_ms"), 50,
                   "ms")]


def run(settings: Settings) -> dict[str, Any]:
    return {"backends": [run_backend(settings, backend) for backend in settings.backends]}
