"""The benchmark suite still runs: tiny API, upstream and lifecycle runs, and their files.

Benchmarks report and never fail on a missed target; these tests only check that the suite
runs end to end and that its results and report keep their structure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench import upstream

ROOT = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--work",
         str(tmp_path / "work"), "--report", str(tmp_path / "performance.md"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    files = sorted(out.glob("run-*.json"))
    assert len(files) == 1, files
    run: dict[str, Any] = json.loads(files[0].read_text())
    assert run["quick"] is True
    assert set(run["machine"]) >= {"timestamp", "cores", "kernel", "git_commit"}
    assert run["machine"]["cores"] >= 1
    return run


def test_quick_api_benchmark_writes_results_and_report(tmp_path: Path) -> None:
    run = run_bench(tmp_path, "--only", "api", "--backends", "sqlite", "--clusters", "50",
                    "--templates", "5", "--seconds", "1", "--workers", "2")
    (backend,) = run["suites"]["api"]["backends"]
    assert backend["backend"] == "sqlite" and backend["clusters"] == 50
    scenarios = {(r["scenario"], r["concurrency"]) for r in backend["results"]}
    assert scenarios == {(name, c) for c in (1, 16) for name in (
        "template_create", "cluster_list_50", "cluster_list_1000", "cluster_show")}
    for result in backend["results"]:
        assert result["errors"] == 0, result
        assert result["requests"] > 0 and result["p50_ms"] <= result["p99_ms"]
    assert [t["name"] for t in backend["targets"]] == [
        "cluster show p50 at c=1", "cluster list 50 p99 at c=16"]
    assert all(t["met"] in (True, False) for t in backend["targets"])
    report = (tmp_path / "performance.md").read_text()
    assert "Quick run on a shared machine" in report and "### sqlite" in report
    assert (tmp_path / "performance" / "api-latency.png").stat().st_size > 1000


@pytest.mark.postgres
def test_quick_upstream_benchmark_measures_upstream_magnum_and_leaves_nothing(
        tmp_path: Path) -> None:
    try:
        venv = upstream.install()  # at once when cached, else about 25 s of pip
    except upstream.InstallFailed as exc:
        pytest.skip(f"upstream Magnum {upstream.VERSION} is not cached in "
                    f"{upstream.venv_path()} and pip cannot install it: {exc}")
    run = run_bench(tmp_path, "--only", "upstream", "--clusters", "50", "--templates", "5",
                    "--seconds", "1", "--workers", "2")
    data = run["suites"]["upstream"]
    assert "error" not in data, data["error"]
    assert data["versions"]["magnum"] == upstream.VERSION and data["venv"] == str(venv)
    assert {(r["scenario"], r["concurrency"]) for r in data["results"]} == {
        (name, c) for c in (1, 16) for name in upstream.LISTS}
    for result in data["results"]:
        assert result["errors"] == 0, result
        assert result["requests"] > 0 and result["p50_ms"] <= result["p99_ms"]
    assert data["rows_listed"] == {"cluster_list_50": 50, "cluster_list_1000": 50}
    assert data["left_out"]["template_create"].startswith("400 ")
    assert not list((tmp_path / "work").glob("upstream-*")), "its state directory stayed"
    # gunicorn retitles its processes; they are found by their directory
    assert not [p for p in psutil.process_iter(["cwd"])
                if (p.info["cwd"] or "").startswith(str(tmp_path))], "gunicorn stayed"
    report = (tmp_path / "performance.md").read_text()
    assert "## API side by side: Magna and upstream Magnum" in report
    assert "no result of the `api` suite" in report


@pytest.mark.docker
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None,
                    reason="needs root and docker.io")
def test_tiny_lifecycle_benchmark_measures_and_cleans_up(tmp_path: Path) -> None:
    run = run_bench(tmp_path, "--only", "lifecycle", "--sizes", "1+1", "--scale-steps", "1")
    steps = run["suites"]["lifecycle"]["steps"]
    assert set(steps) == {"create 1+1", "delete 1+1", "scale +1", "delete after scaling"}
    assert all(s["n"] == 1 and s["median_s"] > 0 for s in steps.values())
    work = tmp_path / "work"
    assert not list(work.glob("lifecycle-*/local-swarm/*/")), "a cluster was left behind"
    assert (tmp_path / "performance" / "lifecycle.png").exists()


@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.rabbitmq
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None,
                    reason="needs root and docker.io")
def test_handover_benchmark_kills_the_holder_and_the_survivor_finishes(tmp_path: Path) -> None:
    run = run_bench(tmp_path, "--only", "handover", "--repeat", "1")
    data = run["suites"]["handover"]
    (once,) = data["runs"]
    assert once["victim"] != once["survivor"] and once["status"] == "CREATE_COMPLETE"
    assert 0 < once["held_s"] <= once["complete_s"]
    assert data["left_on_host"] == {}
    assert "## Hand-over after a conductor is killed" in (tmp_path / "performance.md").read_text()


@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.rabbitmq
@pytest.mark.rabbitmq_restart
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None,
                    reason="needs root and docker.io")
def test_a_short_chaos_run_loses_and_leaks_nothing(tmp_path: Path) -> None:
    run = run_bench(tmp_path, "--only", "chaos", "--chaos-seconds", "20")
    data = run["suites"]["chaos"]
    assert "error" not in data, data
    assert sum(data["faults"].values()) > 0 and data["clusters"] > 0
    assert not {"lost", "untruthful"} & set(data["outcomes"]), data["details"]
    assert data["leaked"] == {} and data["delete_stuck"] == []
    assert "## Chaos" in (tmp_path / "performance.md").read_text()
