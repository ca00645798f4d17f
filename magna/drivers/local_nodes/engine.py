"""One node's Docker Engine: its configuration, starting it sealed in the node's own namespaces,
recognising a live one after a conductor crash, and stopping it for good.

``EngineSpec.build()`` is the node's ``daemon.json`` (pure), as the engine reads it inside the
node. The sealed start runs::

    sh -c '<join the node cgroup (limits.enter_script)>; exec unshare --cgroup "$@"'
        nsenter --net=/run/netns/<ns> unshare --mount --uts --ipc --pid --fork
        --propagation private sh seal.sh <node dir>/root <run dir> <hostname> ...

``seal.sh`` (shipped beside this module) runs as PID 1 of the node's new namespaces: it mounts
the node's root (``rootfs.py``: generated /etc, the data root, the host's programs read-only),
fresh /proc, /sys, cgroup hierarchies, a minimal /dev, /tmp, and the node's host run dir as
/run, pivots into it and ``exec``s ``docker-init -- dockerd``. With ``docker_volume_size`` the
node's data root is its own disk (``storage.py``), loop-mounted by ``seal.sh`` in the node's
namespace only. Joining the cgroups comes first (the cgroup namespace's root is the cgroup one
is in) and the network namespace before the mount namespace (sysfs shows the netns of whoever
mounts it). So the engine, containerd and every
container see only the node: a tenant's ``-v /:/host`` shows the node's root. The containers'
root is an unprivileged host id (``userns-remap``, the cluster's range from ``rootfs.id_base``),
and their cgroups land in ``<node cgroup>/docker`` (the engine's default parent inside the
cgroup namespace; ``limits.py`` caps it below the node's flavor).

Identity: inside the node, the pid file says a pid of the node's namespace and every node's
dockerd has the same command line, so Magna records the host pid of ``unshare`` in
``<node dir>/engine.pid`` (and, for operators, ``<run dir>/docker.pid``, where it always
was; dockerd's own pid file is the node's ``/run/dockerd.pid``) and recognises it by its
command line (which names the node's root) and its cgroup. ``unshare --kill-child`` ties the
node to that process: when it dies, the kernel kills the node's PID 1 and with it the whole
node. Stopping sends SIGTERM to the node's
PID 1 (``docker-init``, which passes it to dockerd), then SIGKILL to everything in the node's
cgroup; once PID 1 is gone the kernel ends the whole node and its mounts go with its mount
namespace.

Persistent state (the root, certificates, log) lives in the node directory under the state dir;
the node's /run lives under the driver's ``run_dir`` option because the conductor reaches the
engine through ``<run dir>/docker.sock`` and unix socket paths may not exceed 107 bytes. The run
dir is emptied at every start, so no stale pid file blocks a restart.

NOTE: ``engine.started`` records the hash of what the running engine started with (config,
environment, certificates); a different desired hash (a new certificate after CA rotation, a new
image or DNS server after an upgrade) means a restart: ``engines.start_all`` reports it and the
driver rolls it out, since how many may restart at once is the orchestrator's business.
``--live-restore`` is never set: Docker's own cluster mode refuses it, and an engine restart is
how changes are rolled out anyway. A node created unsealed (data root in ``<node dir>/data``)
is not migrated: with remapping, its images and membership would be hidden; recreate it.

Every engine consults the engine guard (``magna.drivers.engine_guard``, one host-wide
authorization plugin process): daemon.json names the plugin, its spec file points at
``/run/magna-seal/authz.sock``, and the host's socket directory for the node is bound there. The
guard is started (if it is not running) before any engine, since an engine refuses to start,
and then every call, without it. ``EngineSpec.authz_root = None`` leaves it out (a test that
looks at the layers beneath the guard does so).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import docker

from magna.common.exceptions import TemporaryError
from magna.common.processes import alive
from magna.drivers.engine_guard import policy as guard_policy
from magna.drivers.engine_guard import service as guard
from magna.drivers.local_nodes import limits, network, pki, rootfs, storage

PORT = 2375
LOG = "engine.log"
STARTED = "engine.started"
FAILURES = "engine.exits"
PID_FILE = "engine.pid"  # the host pid of the node's ``unshare``: what Magna trusts
HOST_PID_FILE = "docker.pid"  # the same, in the run dir, for operators (the README kills it)
SEAL_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seal.sh")
# NOTE: --kill-child: the node's PID 1 gets SIGKILL when unshare dies, so the node lives exactly
# as long as the process Magna records (a SIGKILL to it, from Magna or anyone, ends the node).
# NOTE: the cgroup namespace comes first, from ``limits.enter_script``.
UNSHARE = ("unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child",
           "--propagation", "private")
AUTHZ_PLUGIN = "magna-seal"
AUTHZ_SOCKET = "unix:///run/magna-seal/authz.sock"
PING_VERSION = ".".join(map(str, guard_policy.MIN_API_VERSION))
NODE_TLS = "/etc/docker/tls"
OWN_PROGRAM = "/usr/local/sbin/dockerd"


@dataclass(frozen=True)
class EngineSpec:
    node_dir: str
    run_dir: str  # the node's /run on the host
    hostname: str
    netns: str
    address: str
    cgroup_parent: str  # the node's cgroup: everything the node runs is in it or below it
    tls: bool = True
    dockerd: str = "dockerd"  # the driver's dockerd option (a program under /usr, or on PATH)
    insecure_registries: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    labels: tuple[str, ...] = ()
    id_base: int = rootfs.ID_BASE  # the cluster's first remapped host id
    authz_root: str | None = None  # the seal plugin's directory; None: no plugin
    login_user: str = ""  # the account of SSH logins in the node's /etc/passwd (ssh.py)
    # NOTE: what an orchestrator needs beyond this (``cluster.EngineProfile``): False keeps the
    # engine's API on the node's unix socket only; daemon.json settings as JSON texts; more
    # ``seal.sh`` items (read-only program directories, pinned sysctls, /dev/kmsg).
    tcp: bool = True
    options: tuple[tuple[str, str], ...] = ()
    seal: tuple[str, ...] = ()
    storage_driver: str = storage.DEFAULT_STORAGE_DRIVER  # docker_storage_driver
    volume: storage.Volume | None = None  # docker_volume_size: the node's own disk

    @property
    def root(self) -> str:
        return os.path.join(self.node_dir, rootfs.ROOT)

    @property
    def config_path(self) -> str:
        return os.path.join(self.root, rootfs.DAEMON_JSON)

    @property
    def data_root(self) -> str:
        return os.path.join(self.root, rootfs.DATA_ROOT)

    @property
    def socket(self) -> str:
        return os.path.join(self.run_dir, "docker.sock")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.node_dir, PID_FILE)

    def build(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "data-root": "/var/lib/docker",
            "exec-root": "/run/docker",
            # NOTE: /run/docker.pid (the host's <run dir>/docker.pid) is Magna's: the host pid
            # of the node's unshare, which an operator may kill -9 as an engine crash would.
            "pidfile": "/run/dockerd.pid",
            "hosts": ["unix:///run/docker.sock",
                      *([f"tcp://{self.address}:{PORT}"] if self.tcp else [])],
            "userns-remap": rootfs.REMAP_USER,
            "oom-score-adjust": 0,  # NOTE: the engine's OOM protection is limits.WORKLOADS
            "live-restore": False,
            "storage-driver": self.storage_driver,
        }
        if self.authz_root is not None:
            config["authorization-plugins"] = [AUTHZ_PLUGIN]
        if self.dns:
            config["dns"] = list(self.dns)
        if self.labels:
            config["labels"] = list(self.labels)
        config.update({key: json.loads(value) for key, value in self.options})
        if self.tls and self.tcp:  # NOTE: tls_disabled serves plain TCP on 2375, as upstream
            config.update({
                "tls": True, "tlsverify": True,
                "tlscacert": f"{NODE_TLS}/ca.pem",
                "tlscert": f"{NODE_TLS}/cert.pem",
                "tlskey": f"{NODE_TLS}/key.pem",
            })
        if self.insecure_registries:  # plain HTTP, see registry.py for why that is acceptable
            config["insecure-registries"] = list(self.insecure_registries)
        return config


def desired_hash(spec: EngineSpec, certs_digest: str) -> str:
    """What the engine must have started with: its config, its environment, its id range and
    its certificates (dockerd rejects unknown keys in daemon.json, so the certificates' digest,
    the ids and the environment only enter the hash)."""
    hashed: list[Any] = [spec.build(), spec.environment, spec.id_base, spec.seal]
    if spec.volume is not None:  # NOTE: only then, so nodes without one keep their hash
        hashed.append([spec.volume.image, spec.volume.size_gib, spec.volume.paths])
    text = json.dumps(hashed, sort_keys=True)
    return hashlib.sha256((text + certs_digest).encode()).hexdigest()


def write_config(spec: EngineSpec) -> None:
    """The node's root with its /etc, daemon.json, certificates and plugin spec (idempotent)."""
    os.makedirs(spec.node_dir, exist_ok=True)
    os.makedirs(spec.run_dir, exist_ok=True)
    rootfs.prepare(spec.root, rootfs.etc_files(hostname=spec.hostname, address=spec.address,
                                               first_id=spec.id_base, dns=spec.dns,
                                               login_user=spec.login_user,
                                               environment=spec.environment))
    rootfs.write(spec.config_path, json.dumps(spec.build(), indent=1).encode())
    spec_file = os.path.join(spec.root, rootfs.PLUGINS_DIR, f"{AUTHZ_PLUGIN}.spec")
    if spec.authz_root is not None:
        rootfs.write(spec_file, f"{AUTHZ_SOCKET}\n".encode())
        # NOTE: asked now, served by the guard's next scan: the engine's start (``_authz_dir``)
        # then finds it listening instead of waiting for the next scan on every create.
        guard.ask(spec.authz_root, spec.netns)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spec_file)
    if spec.tls:
        files = pki.server_files(spec.node_dir)
        tls = os.path.join(spec.root, rootfs.TLS_DIR)
        for source, name, mode in ((files.ca, "ca.pem", 0o644), (files.cert, "cert.pem", 0o644),
                                   (files.key, "key.pem", 0o600)):
            with contextlib.suppress(FileNotFoundError), open(source, "rb") as handle:
                rootfs.write(os.path.join(tls, name), handle.read(), mode)


def pid_of(spec: EngineSpec) -> int | None:
    """The host pid of this node's running engine (its ``unshare``), or None (no record, dead,
    zombie, reused)."""
    try:
        with open(spec.pid_file) as handle:
            pid = int(handle.read().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _is_our_engine(pid, spec) else None


def _is_our_engine(pid: int, spec: EngineSpec) -> bool:
    """``pid`` is a live ``unshare`` naming this node's root, in this node's cgroup."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return (alive(pid) and limits.runs_in(pid, spec.cgroup_parent)
            and os.path.basename(argv[0]) == b"unshare" and spec.root.encode() in argv)


def ping(spec: EngineSpec) -> bool:
    if not os.path.exists(spec.socket):
        return False
    try:
        # NOTE: a fixed version: "auto" asks the engine for it first, a second request per
        # ping; the oldest one the guard lets through (it refuses older clients).
        client = docker.APIClient(base_url=f"unix://{spec.socket}", version=PING_VERSION,
                                  timeout=3)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def start(spec: EngineSpec, config_hash: str) -> int:
    """Start the node's engine, sealed (see the module's docstring); the host pid of its
    ``unshare``, which lives exactly as long as the node's engine."""
    clear_remains(spec)
    limits.prepare_start(spec.cgroup_parent)
    write_config(spec)
    authz = _authz_dir(spec) if spec.authz_root is not None else "-"
    # NOTE: joining the node's cgroups is not optional: a node must not run beyond its flavor.
    join = limits.enter_script(spec.cgroup_parent)
    program, mounts = _program(spec)
    if spec.volume is not None:
        storage.ensure(spec.volume)
        mounts.append(spec.volume.seal_item())
    mounts += [f"ro:{path}" for path in rootfs.read_only_dirs()]
    mounts += limits.seal_mounts()
    mounts += list(spec.seal)
    env = {name: value for name, value in os.environ.items()
           if name.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")}
    env.update(spec.environment)
    env["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    with open(os.path.join(spec.node_dir, LOG), "ab") as log:
        process = subprocess.Popen(
            ["sh", "-c", join, "sh", "nsenter", f"--net={network.NS_DIR}/{spec.netns}",
             *UNSHARE, "sh", SEAL_SCRIPT, spec.root,
             spec.run_dir, spec.hostname, authz, program, *mounts],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=spec.node_dir, env=env)
    rootfs.write(spec.pid_file, f"{process.pid}\n".encode())
    rootfs.write(os.path.join(spec.run_dir, HOST_PID_FILE), f"{process.pid}\n".encode())
    with open(os.path.join(spec.node_dir, STARTED), "w") as handle:
        handle.write(config_hash)
    return process.pid


def _program(spec: EngineSpec) -> tuple[str, list[str]]:
    """The engine's program as the node sees it, and the mount bringing it in: a program in the
    host's read-only program directories is there already; another (the operator's dockerd
    option naming, say, /opt/docker/dockerd) is bound read-only at ``OWN_PROGRAM``."""
    found = shutil.which(spec.dockerd, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if found is None:
        return spec.dockerd, []  # NOTE: the node's log then says what is missing
    real = os.path.realpath(found)
    if any(real.startswith(directory + os.sep) for directory in rootfs.read_only_dirs()):
        return real, []
    rootfs.write(spec.root + OWN_PROGRAM, b"", 0o755)  # the mount point
    return OWN_PROGRAM, [f"file:{real}:{OWN_PROGRAM}"]


def _authz_dir(spec: EngineSpec) -> str:
    """The host directory of the node's plugin socket, once the plugin serves it."""
    assert spec.authz_root is not None
    guard.ensure_running(spec.authz_root)
    try:
        return guard.socket_dir(spec.authz_root, spec.netns, timeout=5.0)
    except TemporaryError:
        # NOTE: the guard may have stopped as this node's directory appeared (the host's last
        # other cluster was being removed, see ``forget_authz``): start it once more.
        guard.ensure_running(spec.authz_root)
        return guard.socket_dir(spec.authz_root, spec.netns, timeout=5.0)


def forget_authz(authz_root: str | None, prefix: str, *, exact: bool = True) -> None:
    """The plugin no longer serves the node named ``prefix`` (its netns name), or with
    ``exact=False`` any node whose name starts with it (a whole cluster being removed)."""
    if authz_root is None or not os.path.isdir(authz_root):
        return
    for entry in os.listdir(authz_root):
        if entry == prefix or (not exact and entry.startswith(prefix)):
            guard.forget(authz_root, entry)
    # NOTE: the guard runs while any node of the host may call it, and no longer: a host whose
    # last cluster is gone keeps no process of Magna's (the next node starts it again).
    guard.stop_if_unused(authz_root)


def clear_remains(spec: EngineSpec) -> None:
    """Before a start: kill what is left of the node's previous engine (anything still in its
    cgroup) and give the node an empty /run (a stale pid file stops dockerd from starting)."""
    kill_node(spec.cgroup_parent)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(spec.pid_file)
    unmount_under(spec.run_dir)
    shutil.rmtree(spec.run_dir, ignore_errors=True)
    os.makedirs(spec.run_dir, exist_ok=True)


def kill_node(cgroup: str, timeout: float = 5.0) -> None:
    """SIGKILL every process in the node's cgroup until none is left (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = {pid for pid in limits.pids_in(cgroup) if pid != os.getpid() and alive(pid)}
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            _signal(pid, signal.SIGKILL)
        time.sleep(0.05)


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


def stop(spec: EngineSpec, timeout: float) -> None:
    """Stop the node's engine: SIGTERM to the node's PID 1 (docker-init hands it to dockerd),
    SIGKILL after ``timeout``, then SIGKILL to whatever is left in the node's cgroup."""
    pid = pid_of(spec)
    if pid is not None:
        _signal(next(iter(children(pid)), pid), signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    kill_node(spec.cgroup_parent)


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return []


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
