"""The master load balancer of a cluster with ``master_lb_enabled``: one HAProxy on the host.

It listens on the cluster bridge's own address (the subnet's ``.1``, which the host holds) port
2375 and forwards TCP to every manager's ``<ip>:2375``; TLS passes through untouched, so each
manager's server certificate also names the bridge address. Health checks (a TCP connect every
second, down after two misses, up after one success) take a manager whose engine died out of
rotation, and a connection that fails anyway is retried on another manager.

HAProxy runs as a daemon like the engines, outliving the conductor::

    <cluster dir>/balancer/haproxy.cfg     the configuration (rewritten when the managers change)
    <run dir>/haproxy.pid                  the daemon's pid
    <cluster dir>/balancer/started         the digest of the configuration it started with

A later pass recognises it by its pid file (a live, non-zombie process whose command line names
this configuration) and restarts it when the desired configuration differs from the one it
started with. ``build_config`` is pure.

It is part of the node layer because it only forwards TCP to the masters' engine port: any
orchestrator whose masters serve an API on their engines can sit behind it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from magna.common import files
from magna.common.exceptions import PermanentError
from magna.common.processes import alive
from magna.drivers.base import ClusterSpec
from magna.drivers.local_nodes import host
from magna.drivers.local_nodes.engine import PORT

BINARY = "haproxy"
DIRECTORY = "balancer"
CONFIG = "haproxy.cfg"
STARTED = "started"
PIDFILE = "haproxy.pid"
START_WAIT = 10.0


@dataclass(frozen=True)
class Balancer:
    """One cluster's HAProxy: where it listens, whom it forwards to, and its files."""

    name: str
    listen: str
    backends: Sequence[str]
    state_dir: str
    run_dir: str
    port: int = PORT

    @property
    def config_path(self) -> str:
        return os.path.join(self.state_dir, DIRECTORY, CONFIG)

    @property
    def pidfile(self) -> str:
        return os.path.join(self.run_dir, PIDFILE)

    @property
    def started_path(self) -> str:
        return os.path.join(self.state_dir, DIRECTORY, STARTED)


def balanced(spec: ClusterSpec) -> bool:
    """The cluster's masters sit behind a load balancer on the host.

    NOTE: with one master too, so the API address stays the same when masters are scaled."""
    return spec.master_lb_enabled


def build_config(name: str, listen: str, backends: Sequence[str], port: int = PORT) -> str:
    """HAProxy's configuration: TCP on ``listen``:``port`` to every backend address's
    ``port`` (the engines' 2375, or an orchestrator's API port)."""
    servers = "".join(f"    server m{index} {address}:{port} check inter 1s fall 2 rise 1\n"
                      for index, address in enumerate(backends))
    return (
        "global\n"
        "    maxconn 512\n"
        "\n"
        "defaults\n"
        "    mode tcp\n"
        "    timeout connect 3s\n"
        "    timeout client 1h\n"
        "    timeout server 1h\n"
        "    retries 3\n"
        "    option redispatch\n"
        "\n"
        f"frontend {name}\n"
        f"    bind {listen}:{port}\n"
        f"    default_backend {name}-managers\n"
        "\n"
        f"backend {name}-managers\n"
        "    balance roundrobin\n"
        f"{servers}"
    )


def binary() -> str:
    found = shutil.which(BINARY, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        raise PermanentError("A cluster with master_lb_enabled needs HAProxy on the "
                             "conductor's host: apt-get install haproxy")
    return found


def ensure(lb: Balancer) -> bool:
    """Make the cluster's HAProxy run with the desired configuration; True if (re)started."""
    text = build_config(lb.name, lb.listen, lb.backends, lb.port)
    digest = hashlib.sha256(text.encode()).hexdigest()
    pid = pid_of(lb)
    if pid is not None and _read(lb.started_path) == digest:
        return False
    program = binary()
    os.makedirs(os.path.dirname(lb.config_path), exist_ok=True)
    os.makedirs(lb.run_dir, exist_ok=True)
    _write(lb.config_path, text)
    stop(lb)
    done = subprocess.run([program, "-D", "-f", lb.config_path, "-p", lb.pidfile],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise host.CommandFailed([program, "-f", lb.config_path], done.stderr)
    deadline = time.monotonic() + START_WAIT
    while pid_of(lb) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    _write(lb.started_path, digest)
    return True


def pid_of(lb: Balancer) -> int | None:
    """The pid of this cluster's running HAProxy, or None (no pid file, dead, reused)."""
    try:
        with open(lb.pidfile) as handle:
            pid = int(handle.read().split()[0])
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return None
    return pid if alive(pid) and lb.config_path.encode() in argv else None


def stop(lb: Balancer, timeout: float = 5.0) -> None:
    """Stop the cluster's HAProxy (SIGTERM, then SIGKILL) and forget its pid and digest."""
    pid = pid_of(lb)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for path in (lb.pidfile, lb.started_path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def _write(path: str, text: str) -> None:
    files.replace(path, text.encode())
