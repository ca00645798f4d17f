"""Programs that run inside a sealed node beside its engine: an orchestrator's node agents.

An orchestrator's agents (a kubelet, a network proxy, a control plane) must see what the node's
engine sees: the node's own root, its /run (the engine's socket), its mounts, its network and
its cgroups. So they are started inside the node's namespaces, not beside them::

    sh -c '<join the node cgroup in every hierarchy>;
           exec nsenter -t <node PID 1> --mount --uts --ipc --net --pid --cgroup --root --wd
                -- <program> <arguments>'

``nsenter`` stays on the host as the agent's parent (it forks into the node's PID namespace)
and is what Magna records (``<node dir>/daemons/<name>.pid``) and recognises (a live process
whose command line names the node's PID 1 and the program). An agent lives at most as long as
the node: when the engine's ``unshare`` dies the kernel ends the node's PID namespace, agents
included; ``stop`` ends one agent (SIGTERM to the agent, SIGKILL after a timeout).

``<name>.started`` holds the digest of what the agent was started with (its command line, its
environment and whatever the caller adds, e.g. its certificates), so a caller restarts an agent
whose configuration changed. Logs go to ``<node dir>/<name>.log`` on the host.

NOTE: the programs must exist inside the node: the host's ``/usr`` is there read-only, and an
orchestrator's own programs come in through an ``EngineProfile`` ``dir:`` item.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from magna.common.processes import alive
from magna.drivers.local_nodes import engine, limits, rootfs
from magna.drivers.local_nodes.node import LocalNode

DIRECTORY = "daemons"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class NodeDown(Exception):
    """The node's engine (and so its namespaces) is not running."""


@dataclass(frozen=True)
class Daemon:
    """One agent: its name (unique on the node), its command line as the node sees it, and its
    environment (beyond ``PATH`` and ``HOME``)."""

    name: str
    argv: Sequence[str]
    environment: Sequence[tuple[str, str]] = ()

    def digest(self, extra: str = "") -> str:
        text = json.dumps([list(self.argv), sorted(self.environment), extra])
        return hashlib.sha256(text.encode()).hexdigest()


def _files(node: LocalNode, name: str) -> tuple[str, str, str]:
    directory = os.path.join(node.engine.node_dir, DIRECTORY)
    return (os.path.join(directory, f"{name}.pid"), os.path.join(directory, f"{name}.started"),
            os.path.join(node.engine.node_dir, f"{name}.log"))


def node_init(node: LocalNode) -> int | None:
    """The host pid of the node's PID 1 (the engine's ``docker-init``), or None."""
    pid = engine.pid_of(node.engine)
    if pid is None:
        return None
    found = engine.children(pid)
    return found[0] if found else None


def pid_of(node: LocalNode, name: str) -> int | None:
    """The host pid of the agent's ``nsenter`` when it runs, else None."""
    pid_file, _, _ = _files(node, name)
    try:
        with open(pid_file) as handle:
            pid = int(handle.read().strip())
    except (FileNotFoundError, ValueError):
        return None
    init = node_init(node)
    if init is None or not alive(pid):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return None
    ours = os.path.basename(argv[0]) == b"nsenter" and str(init).encode() in argv
    return pid if ours and _names(argv, name) else None


def _names(argv: list[bytes], name: str) -> bool:
    """The recorded command line is this agent's (its program follows ``--``)."""
    try:
        program = argv[argv.index(b"--") + 1]
    except (ValueError, IndexError):
        return False
    return bool(program) and name.encode() in os.path.basename(program)


def running(node: LocalNode, daemon: Daemon, extra: str = "") -> bool:
    """The agent runs with this configuration."""
    _, started, _ = _files(node, daemon.name)
    try:
        with open(started) as handle:
            same = handle.read().strip() == daemon.digest(extra)
    except FileNotFoundError:
        same = False
    return same and pid_of(node, daemon.name) is not None


def start(node: LocalNode, daemon: Daemon, extra: str = "") -> int:
    """Start the agent inside the node (stopping an older one first); its host pid."""
    init = node_init(node)
    if init is None:
        raise NodeDown(f"the engine of {node.name} is not running")
    stop(node, daemon.name, timeout=5.0)
    pid_file, started, log = _files(node, daemon.name)
    os.makedirs(os.path.dirname(pid_file), exist_ok=True)
    join = ('for procs; do shift; [ "$procs" = -- ] && break; '
            'echo $$ > "$procs" || exit 1; done && exec nsenter "$@"')
    # NOTE: the template's proxies, as every program of a machine behind a proxy has them
    env = {"PATH": PATH, "HOME": "/root",
           **dict(rootfs.proxy_variables(rootfs.exempt_cluster(
               node.engine.environment, str(node.net.allocation.subnet)))),
           **dict(daemon.environment)}
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            ["sh", "-c", join, "sh", *limits.procs_files(node.engine.cgroup_parent), "--",
             "-t", str(init), "--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup",
             "--root", "--wd", "--", *daemon.argv],
            stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True, env=env)
    with open(pid_file, "w") as handle:
        handle.write(f"{process.pid}\n")
    with open(started, "w") as handle:
        handle.write(daemon.digest(extra))
    return process.pid


def ensure(node: LocalNode, daemon: Daemon, extra: str = "") -> bool:
    """The agent runs with this configuration; True if it had to be (re)started."""
    if running(node, daemon, extra):
        return False
    start(node, daemon, extra)
    return True


def stop(node: LocalNode, name: str, timeout: float) -> None:
    """End the agent: SIGTERM to the program, SIGKILL to it and its ``nsenter`` after
    ``timeout``. Idempotent."""
    pid = pid_of(node, name)
    pid_file, started, _ = _files(node, name)
    if pid is not None:
        agents = engine.children(pid)
        for child in agents:
            _signal(child, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        for child in engine.children(pid):
            _signal(child, signal.SIGKILL)
        _signal(pid, signal.SIGKILL)
    for path in (pid_file, started):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def log_tail(node: LocalNode, name: str, lines: int = 3) -> str:
    _, _, log = _files(node, name)
    try:
        with open(log, errors="replace") as handle:
            return " | ".join(handle.read().strip().splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
