"""One node's Docker Engine: its configuration, starting it inside the node's namespaces,
recognising a live one after a conductor crash, and stopping it for good.

``EngineSpec.build()`` is the node's ``daemon.json`` (pure). The engine runs as::

    unshare --uts sh -c 'hostname <node>; echo $$ > <node cgroups>/cgroup.procs;
                         exec nsenter --net=/run/netns/<ns> dockerd
                         --config-file <node dir>/daemon.json'

so it has the node's hostname and network but the host's mount namespace (``ip netns exec``
would remount /sys and hide the cgroup files). Before the ``exec`` the shell writes its pid into
the node's cgroups (``limits.procs_files``), so dockerd, containerd and the containers run within
the node's flavor. The template's proxies are dockerd's environment (``HTTP_PROXY`` ...).
The process is in its own session and logs to ``engine.log``, so it outlives the conductor; a
later pass finds it again through its pid file, checks that pid is really this node's dockerd (a
stale pid file after SIGKILL may name a dead or reused pid), and pings its unix socket.

Persistent state (``data-root``, certificates, config, log) lives in the node directory under the
state dir; runtime state (``exec-root``, sockets, pid file) lives under the driver's ``run_dir``
option because unix socket paths may not exceed 107 bytes and containerd's sockets sit deep inside
``exec-root``.

NOTE: ``engine.started`` records the hash of what the running engine started with (config,
environment, certificates); a different desired hash (a new certificate after CA rotation, a new
image or DNS server after an upgrade) means a restart: ``engines.start_all`` reports it and the
driver rolls it out, since how many may restart at once is the orchestrator's business.
``--live-restore`` is never set: Docker's own cluster mode refuses it, and an engine restart is
how changes are rolled out anyway.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import docker

from magna.drivers.local_nodes import limits, network

PORT = 2375
CONFIG = "daemon.json"
LOG = "engine.log"
STARTED = "engine.started"
FAILURES = "engine.exits"


@dataclass(frozen=True)
class EngineSpec:
    node_dir: str
    run_dir: str
    hostname: str
    netns: str
    address: str
    cgroup_parent: str
    tls: bool = True
    dockerd: str = "dockerd"  # the driver's dockerd option
    insecure_registries: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    labels: tuple[str, ...] = ()

    @property
    def config_path(self) -> str:
        return os.path.join(self.node_dir, CONFIG)

    @property
    def socket(self) -> str:
        return os.path.join(self.run_dir, "docker.sock")

    @property
    def pidfile(self) -> str:
        return os.path.join(self.run_dir, "docker.pid")

    def build(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "data-root": os.path.join(self.node_dir, "data"),
            "exec-root": self.run_dir,
            "pidfile": self.pidfile,
            "hosts": [f"unix://{self.socket}", f"tcp://{self.address}:{PORT}"],
            "cgroup-parent": self.cgroup_parent,
            "live-restore": False,
        }
        if self.dns:
            config["dns"] = list(self.dns)
        if self.labels:
            config["labels"] = list(self.labels)
        if self.tls:  # NOTE: a template's tls_disabled serves plain TCP on 2375, as upstream
            config.update({
                "tls": True, "tlsverify": True,
                "tlscacert": os.path.join(self.node_dir, "ca.pem"),
                "tlscert": os.path.join(self.node_dir, "server-cert.pem"),
                "tlskey": os.path.join(self.node_dir, "server-key.pem"),
            })
        if self.insecure_registries:  # plain HTTP, see registry.py for why that is acceptable
            config["insecure-registries"] = list(self.insecure_registries)
        return config


def desired_hash(spec: EngineSpec, certs_digest: str) -> str:
    """What the engine must have started with: its config, its environment and its certificates
    (dockerd rejects unknown keys in daemon.json, so the certificates' digest and the environment
    only enter the hash)."""
    text = json.dumps([spec.build(), spec.environment], sort_keys=True) + certs_digest
    return hashlib.sha256(text.encode()).hexdigest()


def write_config(spec: EngineSpec) -> None:
    os.makedirs(spec.node_dir, exist_ok=True)
    os.makedirs(spec.run_dir, exist_ok=True)
    network.write_json(spec.config_path, spec.build())


def pid_of(spec: EngineSpec) -> int | None:
    """The pid of this node's running dockerd, or None (no pid file, dead, zombie, reused)."""
    try:
        with open(spec.pidfile) as handle:
            pid = int(handle.read().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _is_our_dockerd(pid, spec.config_path) else None


def _is_our_dockerd(pid: int, config_path: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X") and config_path.encode() in argv


def ping(spec: EngineSpec) -> bool:
    if not os.path.exists(spec.socket):
        return False
    try:
        client = docker.APIClient(base_url=f"unix://{spec.socket}", version="auto", timeout=3)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def start(spec: EngineSpec, config_hash: str) -> int:
    clear_remains(spec)
    # NOTE: joining the node's cgroups is not optional: an engine must not run beyond its flavor.
    script = ('hostname "$1" && netns=$2 config=$3 dockerd=$4 && shift 4 && '
              'for procs; do echo $$ > "$procs" || exit 1; done && '
              'exec nsenter --net=/run/netns/"$netns" "$dockerd" --config-file "$config"')
    env = {name: value for name, value in os.environ.items()
           if name.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")}
    env.update(spec.environment)
    env["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    with open(os.path.join(spec.node_dir, LOG), "ab") as log:
        process = subprocess.Popen(
            ["unshare", "--uts", "sh", "-c", script, "sh", spec.hostname, spec.netns,
             spec.config_path, spec.dockerd, *limits.procs_files(spec.cgroup_parent)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=spec.node_dir, env=env)
    with open(os.path.join(spec.node_dir, STARTED), "w") as handle:
        handle.write(config_hash)
    return process.pid


def clear_remains(spec: EngineSpec) -> None:
    """Before a start: kill what is left of the node's previous engine (a containerd whose
    dockerd was killed) and drop stale pid files. dockerd takes a pid file naming a zombie for a
    live containerd and then waits for it in vain."""
    remains = processes_using(spec.run_dir, spec.config_path)
    for pid in remains:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while any(alive(pid) for pid in remains) and time.monotonic() < deadline:
        time.sleep(0.05)
    for path in (spec.pidfile, os.path.join(spec.run_dir, "containerd", "containerd.pid")):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def record_exit(spec: EngineSpec) -> int:
    """Count an engine that exited while we waited for it; return how often in a row."""
    path = os.path.join(spec.node_dir, FAILURES)
    try:
        with open(path) as handle:
            count = int(handle.read().strip() or "0") + 1
    except (FileNotFoundError, ValueError):
        count = 1
    with open(path, "w") as handle:
        handle.write(f"{count}\n")
    return count


def reset_exits(spec: EngineSpec) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(spec.node_dir, FAILURES))


def started_hash(spec: EngineSpec) -> str | None:
    try:
        with open(os.path.join(spec.node_dir, STARTED)) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def seconds_since_start(spec: EngineSpec) -> float:
    try:
        return time.time() - os.stat(os.path.join(spec.node_dir, STARTED)).st_mtime
    except FileNotFoundError:
        return float("inf")


def log_tail(spec: EngineSpec, lines: int = 5) -> str:
    try:
        with open(os.path.join(spec.node_dir, LOG), errors="replace") as handle:
            return " | ".join(handle.read().strip().splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, IndexError):
        return False


def stop(spec: EngineSpec, timeout: float) -> None:
    """Stop the node's dockerd (SIGTERM, then SIGKILL) and anything else left of the node."""
    pid = pid_of(spec)
    if pid is not None:
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    for other in processes_using(spec.run_dir, spec.node_dir, spec.config_path):
        _signal(other, signal.SIGKILL)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def processes_using(*paths: str) -> list[int]:
    """Live processes whose command line names one of ``paths`` (dockerd, containerd, shims)."""
    found = []
    needles = [path.encode() for path in paths]
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if any(needle in cmdline for needle in needles) and alive(int(entry)):
            found.append(int(entry))
    return found


def unmount_under(path: str) -> None:
    """Lazily unmount every mount at or below ``path``, deepest first (dockerd bind-mounts its
    data root onto itself, and overlay mounts appear once containers run)."""
    prefix = os.path.realpath(path)
    mounts = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
