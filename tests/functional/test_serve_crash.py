"""The embedded default (one ``magna serve`` process, SQLite) killed mid-create and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.conductor import wait_for
from tests.support.fake_driver import nodes_on_disk, overlaps
from tests.support.server import free_port, write_config

HEADERS = {"OpenStack-API-Version": "container-infra latest"}


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "magna", "--config-file", str(config),
                                 "serve"], stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _get(url: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(url, headers=HEADERS, timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def test_kill_9_of_magna_serve_mid_create_then_restart(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    config = tmp_path / "magna.conf"
    write_config(str(config), {
        "DEFAULT": {"state_dir": str(state)}, "api": {"port": port},
        "drivers": {"enabled_drivers": "fake"},
        "conductor": {"sweep_interval": 0.3, "heartbeat_interval": 0.3, "dead_after": 2,
                      "fence_margin": 1}})
    base = f"http://127.0.0.1:{port}"
    process = _start(config, tmp_path / "serve.log")
    try:
        wait_for(lambda: _get(base + "/v1"), 30, "magna serve")
        template = httpx.post(base + "/v1/clustertemplates", headers=HEADERS, json={
            "coe": "swarm-mode", "image_id": "fake-image", "flavor_id": "m1.small",
            "master_flavor_id": "m1.small"}).json()["uuid"]
        uuid = httpx.post(base + "/v1/clusters", headers=HEADERS, json={
            "cluster_template_id": template, "node_count": 5,
            "labels": {"fake_node_seconds": "0.4"}}).json()["uuid"]
        wait_for(lambda: len(nodes_on_disk(str(state), uuid)) >= 2, 30, "nodes to appear")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        started = time.monotonic()
        process = _start(config, tmp_path / "serve.log")
        body = wait_for(lambda: (lambda b: b if b and b["status"] == "CREATE_COMPLETE" else None)(
            _get(f"{base}/v1/clusters/{uuid}")), 60, "the restarted service to finish")
        assert time.monotonic() - started < 60
        assert len(body["node_addresses"]) == 5
        assert len(nodes_on_disk(str(state), uuid)) == 6
        assert overlaps(str(state / "fake-driver" / "operations.log")) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)


def test_a_taken_port_is_refused_before_anything_starts_with_what_to_do(
        tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state = tmp_path / "state"
        result = subprocess.run(
            [sys.executable, "-m", "magna", "serve", "--port", str(port), "--state-dir",
             str(state)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result
    assert f"Port {port} on 127.0.0.1 is taken" in result.stderr
    assert "magna serve --port" in result.stderr and "MAGNA_URL=" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (state / "magna.db").exists()
