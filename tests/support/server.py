"""Run ``magna serve`` as a real process on a free port, the way a user does."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

# NOTE: below the kernel's ephemeral range (32768-60999 here): a port the kernel handed out for
# a moment can be taken as the source port of any outgoing connection (the other test worker's
# docker and HTTP clients) before the server binds it; a port of this range only by a listener.
PORTS = range(20000, 32000)


def free_port() -> int:
    """A port nothing listens on now, outside the ephemeral range."""
    while True:
        port = random.choice(PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
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
    """``magna serve`` on a free port, ready; another port when the one chosen was taken in
    between (another test's server bound it first)."""
    for attempt in range(3):
        try:
            server = _start(state_dir, db_url, extra)
        except PortTaken:
            if attempt == 2:
                raise
            continue
        try:
            yield server
        finally:
            stop_process(server.process)
        return


class PortTaken(RuntimeError):
    pass


def _start(state_dir: str, db_url: str | None,
           extra: dict[str, dict[str, object]] | None) -> RunningServer:
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
    except RuntimeError:
        stop_process(process)
        if "address already in use" in server.log():
            raise PortTaken(server.log()) from None
        raise
    return server


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
