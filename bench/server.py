"""Magna as the benchmarks run it: real server processes on a free loopback port.

``magna-api`` with several uvicorn workers is the production shape of the API; ``magna serve``
(API plus in-process conductor) drives real clusters. Each process gets its own state directory
and config file, starts in its own session, and is stopped by its process group.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

# NOTE: the tests start servers the same way; share their two small helpers.
from tests.support.server import free_port, stop_process, write_config

# Configuration of the conductor that makes lifecycle timings measure the driver, not the
# waiting between passes: how often it sweeps for work and beats its heart. Health observations
# are off so that they do not compete with the measured passes.
FAST_CONDUCTOR: dict[str, object] = {"sweep_interval": 0.2, "heartbeat_interval": 1.0,
                                     "health_interval": 0}


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    state_dir: Path
    log_path: Path
    metrics_url: str = ""

    def driver_steps(self) -> dict[str, dict[str, float]]:
        """``magna_driver_step_duration_seconds`` as scraped now: per ``driver/step``, how many
        were timed and their total seconds (a conductor in this process records them)."""
        text = httpx.get(self.metrics_url, timeout=10).text
        found: dict[str, dict[str, float]] = {}
        for family in text_string_to_metric_families(text):
            if family.name != "magna_driver_step_duration_seconds":
                continue
            for sample in family.samples:
                key = f"{sample.labels.get('driver')}/{sample.labels.get('step')}"
                if sample.name.endswith("_count"):
                    found.setdefault(key, {})["count"] = sample.value
                elif sample.name.endswith("_sum"):
                    found.setdefault(key, {})["seconds"] = sample.value
        return found

    def rss_mib(self) -> float:
        """Resident memory of the server and its uvicorn workers, in MiB (not the node engines
        that a conductor in the server started: they are its children too)."""
        total = 0
        for pid in (self.process.pid, *self.worker_pids()):
            try:
                total += psutil.Process(pid).memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return round(total / 2**20, 1)

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes (not multiprocessing's resource tracker)."""
        try:
            children = psutil.Process(self.process.pid).children()
            return [p.pid for p in children if "spawn_main" in " ".join(p.cmdline())]
        except psutil.NoSuchProcess:
            return []


@contextmanager
def running(state_dir: Path, *, serve: bool, db_url: str | None = None, workers: int = 1,
            extra: dict[str, dict[str, object]] | None = None,
            metrics: bool = False) -> Iterator[Server]:
    """``magna serve`` (``serve=True``) or ``magna-api`` on ``state_dir``, until the block ends;
    with ``metrics``, its metrics listener too (not for the API suite: several workers then
    record into shared files, which costs each request time)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    port, metrics_port = free_port(), free_port()
    sections: dict[str, dict[str, object]] = {
        "DEFAULT": {"state_dir": str(state_dir), "host": f"bench-{port}"},
        "api": {"port": port, "workers": workers},
        "quotas": {"max_clusters_per_project": 1000},
    }
    if metrics:
        sections["metrics"] = {"host": "127.0.0.1", "port": metrics_port}
    if db_url:
        sections["database"] = {"connection": db_url}
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    config = state_dir / "magna.conf"
    write_config(str(config), sections)
    log_path = state_dir / "server.log"
    command = ([sys.executable, "-m", "magna", "--config-file", str(config), "serve"] if serve
               else [sys.executable, "-m", "magna.cmd.api", "--config-file", str(config)])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, state_dir, log_path,
                    metrics_url=f"http://127.0.0.1:{metrics_port}/metrics" if metrics else "")
    try:
        _wait_ready(server, workers)
        yield server
    finally:
        stop_process(process)


def _wait_ready(server: Server, workers: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{server.log_path.read_text()}")
        try:
            ready = httpx.get(server.url + "/v1", timeout=2).status_code == 200
        except httpx.HTTPError:
            ready = False
        if ready and (workers <= 1 or len(server.worker_pids()) >= workers):
            return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer in {timeout}s:\n"
                       f"{server.log_path.read_text()}")
