"""The driver's handle on the host-wide seal plugin (``plugin.py``): start it once, give each
sealed node its socket directory, forget a node, stop it.

    ensure_running(root)          before any sealed engine starts (dockerd fails closed)
    socket_dir(root, node)        the host directory to bind-mount at the node's /run/magna-seal;
                                  returns once the plugin serves it
    forget(root, node)            when the node is deleted; the plugin closes its listener
    answers(root)                 a health check: the plugin answers on its probe socket
    stop(root)                    SIGTERM, then SIGKILL

The plugin is found by its pid file and recognised by its command line (module and root), so a
reused pid is never signalled. It runs detached in its own session and logs to
``<root>/plugin.log``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from magna.common import processes
from magna.common.exceptions import TemporaryError

MODULE = "magna.drivers.engine_guard.plugin"
NAME = "magna-seal"
SOCKET = "authz.sock"
PROBE = "plugin.sock"
PID_FILE = "plugin.pid"
LOG_FILE = "plugin.log"
START_LOCK = ".start.lock"
START_SECONDS = 15.0
STOP_SECONDS = 5.0
POLL_SECONDS = 0.05
MAX_UNIX_PATH = 107  # NOTE: sun_path is 108 bytes with the trailing NUL
ACTIVATE = (b"POST /Plugin.Activate HTTP/1.1\r\nHost: plugin\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n")


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read().rstrip(b"\0")
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0")]


def running(root: str) -> int | None:
    """The pid of the plugin serving ``root``, or None."""
    root = os.path.abspath(root)
    try:
        with open(os.path.join(root, PID_FILE), encoding="ascii") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return pid if _serves(pid, root) else None


def _serves(pid: int, root: str) -> bool:
    """``pid`` is a live plugin process for ``root`` (a zombie's command line is empty)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # NOTE: reaps it when we started it
    argv = _cmdline(pid)
    return MODULE in argv and "--root" in argv and os.path.abspath(argv[-1]) == root


def probe(path: str, timeout: float = 2.0) -> bool:
    """The plugin protocol answers on the unix socket ``path`` (``Plugin.Activate``)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(path)
            client.sendall(ACTIVATE)
            reply = b""
            while chunk := client.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.1 200") and b'"authz"' in reply


def answers(root: str) -> bool:
    """The plugin of ``root`` is up and answering (what a health check looks at first)."""
    return probe(os.path.join(os.path.abspath(root), PROBE))


def _spawn(root: str, python: str) -> subprocess.Popen[bytes]:
    with open(os.path.join(root, LOG_FILE), "ab") as log:
        return subprocess.Popen(
            [python, "-m", MODULE, "--root", root], stdin=subprocess.DEVNULL, stdout=log,
            stderr=log, start_new_session=True, close_fds=True)


def ensure_running(root: str, python: str = sys.executable) -> int:
    """The pid of the plugin serving ``root``, started (detached) if none is; returns once it
    answers on its probe socket."""
    root = os.path.abspath(root)
    os.makedirs(root, mode=0o700, exist_ok=True)
    # NOTE: one starter at a time per root (conductors and test workers of one host share it):
    # without the lock two could each find none running and start one, leaving two guards.
    with open(os.path.join(root, START_LOCK), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pid = running(root)
        if pid is None:
            process = _spawn(root, python)
            try:
                return _await_start(root, process.pid, alive=lambda: process.poll() is None)
            except TemporaryError:
                process.kill()  # NOTE: ours and not serving: never leave it behind
                process.wait()
                raise
    found = pid
    return _await_start(root, found, alive=lambda: _serves(found, root))


def _await_start(root: str, pid: int, *, alive: Callable[[], bool]) -> int:
    deadline = time.monotonic() + START_SECONDS
    while alive() and time.monotonic() < deadline:
        if running(root) == pid and answers(root):
            return pid
        time.sleep(POLL_SECONDS)
    raise TemporaryError(f"The seal plugin {NAME} did not start serving {root} "
                         f"(see {os.path.join(root, LOG_FILE)}).", delay=5.0)


def stop(root: str) -> None:
    """Stop the plugin of ``root`` (SIGTERM, SIGKILL after a grace period); idempotent."""
    pid = running(root)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while _exists(pid) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    if _exists(pid):
        os.kill(pid, signal.SIGKILL)
        while _exists(pid):
            time.sleep(POLL_SECONDS)


def _exists(pid: int) -> bool:
    """The process has not finished exiting: neither gone nor a zombie.

    NOTE: its command line empties while it is still exiting (sockets not yet closed), so a
    stop that waited on ``_serves`` could return before the process was over."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaps it when we started it
    return processes.alive(pid)


def _node_dir(root: str, node_id: str) -> str:
    if not node_id or node_id.startswith(".") or "/" in node_id or "\0" in node_id:
        raise ValueError(f"not a node id for the seal plugin: {node_id!r}")
    return os.path.join(os.path.abspath(root), node_id)


def ask(root: str, node_id: str) -> str:
    """Create ``node_id``'s socket directory, which the plugin serves from its next scan on
    (without waiting: a node's build asks early, so its engine's start finds the socket up)."""
    directory = _node_dir(root, node_id)
    if len(os.path.join(directory, SOCKET).encode()) > MAX_UNIX_PATH:
        raise ValueError(f"the seal socket path {os.path.join(directory, SOCKET)} is longer "
                         f"than a unix socket allows")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return directory


def socket_dir(root: str, node_id: str, timeout: float = 10.0) -> str:
    """The host directory of ``node_id``'s plugin socket (created), once the plugin serves it;
    TemporaryError when it does not within ``timeout``."""
    directory = ask(root, node_id)
    path = os.path.join(directory, SOCKET)
    deadline = time.monotonic() + timeout
    while not probe(path, timeout=1.0):
        if time.monotonic() >= deadline:
            raise TemporaryError(f"The seal plugin {NAME} is not serving node {node_id} "
                                 f"(no answer on {path} after {timeout:g} s).", delay=5.0)
        time.sleep(POLL_SECONDS)
    return directory


def forget(root: str, node_id: str) -> None:
    """Remove ``node_id``'s socket directory; the plugin closes its listener on its next scan."""
    shutil.rmtree(_node_dir(root, node_id), ignore_errors=True)


def stop_if_unused(root: str) -> bool:
    """Stop the plugin when no node has a socket directory any more (the last cluster of the
    host was removed); True if it was stopped or was not running.

    NOTE: a node being built at the same moment may find the plugin gone before its socket
    answers; ``socket_dir`` then raises ``TemporaryError`` and the next pass starts it again."""
    with contextlib.suppress(FileNotFoundError):
        if any(entry.is_dir() for entry in os.scandir(root)):
            return False
    stop(root)
    return True
