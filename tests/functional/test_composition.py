"""What the entry points compose: ``magna-conductor`` without the HTTP side; one nudge wiring."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from magna.cmd import compose
from magna.messaging import AmqpNudger
from tests.conftest import make_conf

# A port nothing listens on: the listener retries quietly, the host's broker stays untouched.
CLOSED_BROKER = "amqp://guest:guest@127.0.0.1:1//"
HTTP_SIDE = ("fastapi", "starlette", "uvicorn", "magna.api", "magna.cmd.api")

# Runs magna-conductor's own main() with the default driver until its threads are up, stops it
# the way an operator does (SIGTERM), then prints which modules of the HTTP side it imported.
CONDUCTOR = """
import json, os, signal, sys, threading, time
from magna.cmd import conductor as entry

def stop_once_started():
    while not any(t.name == "conductor-heartbeat" for t in threading.enumerate()):
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=stop_once_started, daemon=True).start()
entry.main(sys.argv[2:])
sides = json.loads(sys.argv[1])
print(json.dumps(sorted(name for name in sys.modules
                        if any(name == s or name.startswith(s + ".") for s in sides))))
"""


def _write_config(tmp_path: Path, **conductor: str) -> Path:
    lines = ["[DEFAULT]", f"state_dir = {tmp_path / 'state'}", "[conductor]",
             *(f"{key} = {value}" for key, value in conductor.items())]
    path = tmp_path / "magna.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def _http_modules_of_a_conductor_run(config: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", CONDUCTOR, json.dumps(HTTP_SIDE),
                           "--config-file", str(config)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_magna_conductor_runs_without_the_http_side(tmp_path: Path) -> None:
    config = _write_config(tmp_path, transport_url=CLOSED_BROKER, heartbeat_interval="0.2")
    assert _http_modules_of_a_conductor_run(config) == []


def test_serve_nudges_its_own_conductor_without_a_transport(tmp_path: Path) -> None:
    services, conductor = compose.build_serve(make_conf(tmp_path))
    try:
        cluster = str(uuid.uuid4())
        services.nudge(cluster)
        assert conductor.queue.get(timeout=1) == cluster
    finally:
        services.close()


def test_a_transport_carries_every_process_nudges(tmp_path: Path) -> None:
    conf = make_conf(tmp_path, conductor={"transport_url": CLOSED_BROKER})
    services, _ = compose.build_serve(conf)
    api_only = compose.build_services(conf)
    try:
        for svc in (services, api_only):
            assert isinstance(getattr(svc.nudge, "__self__", None), AmqpNudger)
    finally:
        services.close()
        api_only.close()
