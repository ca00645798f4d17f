"""Run ``magna serve`` as a real process on a free port, the way a user does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: str

    @property
    def endpoint(self) -> str:
        return self.url + "/v1"

    def log(self) -> str:
        with open(self.log_path, errors="replace") as handle:
            return handle.read()


def write_config(path: str, sections: dict[str, dict[str, object]]) -> None:
    with open(path, "w") as handle:
        for section, values in sections.items():
            handle.write(f"[{section}]\n")
            for key, value in values.items():
                handle.write(f"{key} = {value}\n")
            handle.write("\n")


@contextmanager
def magna_server(state_dir: str, db_url: str | None = None,
                 extra: dict[str, dict[str, object]] | None = None) -> Iterator[RunningServer]:
    port = free_port()
    sections: dict[str, dict[str, object]] = {"DEFAULT": {"state_dir": state_dir},
                                              "api": {"port": port}}
    if db_url:
        sections["database"] = {"connection": db_url}
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    config = os.path.join(state_dir, "magna.conf")
    os.makedirs(state_dir, exist_ok=True)
    write_config(config, sections)
    log_path = os.path.join(state_dir, "server.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "magna", "--config-file", config, "serve"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = RunningServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _wait_ready(server)
        yield server
    finally:
        stop_process(process)


def _wait_ready(server: RunningServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"magna serve exited early:\n{server.log()}")
        try:
            if httpx.get(server.endpoint, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"magna serve did not answer within {timeout}s:\n{server.log()}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not exited after 10 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
