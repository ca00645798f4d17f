"""The per-cluster image registry of a template with ``registry_enabled``.

Debian's ``docker-registry`` (distribution 2.8) runs on the host for each such cluster, bound to
the cluster bridge's own address (the gateway, ``.1``) on port 5000, which every node reaches
and nothing else routes to. Its blobs live under the cluster's state dir
(``<cluster dir>/registry/data``, log ``registry.log`` next to it); its configuration, pid file
and the hash of the configuration it started with live in the run dir
(``<run dir>/registry/``), so the process's command line names the run dir and the driver's
delete and garbage collection (which stop every process naming the cluster's run dir) stop it
too, even when the state dir has vanished.

Like an engine it runs in its own session and outlives the conductor; a later pass recognises
it by its pid file (a live, non-zombie process whose command line names this config) and
restarts it when the configuration changed.

The registry speaks plain HTTP. That is acceptable here because it is only reachable on the
cluster's private bridge: the bridge's FORWARD rules keep other networks out, and one INPUT
rule (``guard``) rejects connections to it from any source outside the cluster's subnet. Other
clusters' nodes, which would otherwise reach the host's address on this bridge, also meet their
own bridge's fence (``fence.py``), which only opens their own gateway; the guard still keeps out
whatever arrives on the host's other interfaces. Engines list it in ``insecure-registries``.

``publish`` pushes the busybox image (see ``image``) from master 0 once per cluster; a marker
file next to the blobs records it.
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
import requests

from magna.common import processes
from magna.common.exceptions import PermanentError
from magna.drivers.local_nodes import engine, host, image, network

PORT = 5000
BINARY = "docker-registry"
CONFIG = "config.yml"
PIDFILE = "registry.pid"
STARTED = "registry.started"
LOG = "registry.log"
PUSHED = "pushed"
READY_TIMEOUT = 3.0


@dataclass(frozen=True)
class Registry:
    state_dir: str  # <cluster dir>/registry
    run_dir: str  # <run dir>/registry
    short: str
    allocation: network.Allocation

    @property
    def endpoint(self) -> str:
        return f"{self.allocation.gateway}:{PORT}"

    @property
    def image(self) -> str:
        return f"{self.endpoint}/{image.NAME}"

    @property
    def config_path(self) -> str:
        return os.path.join(self.run_dir, CONFIG)

    @property
    def pidfile(self) -> str:
        return os.path.join(self.run_dir, PIDFILE)

    def build(self) -> dict[str, Any]:
        """The registry's config.yml (written as JSON, which YAML reads)."""
        return {
            "version": "0.1",
            "log": {"level": "info", "fields": {"service": "registry"}},
            "storage": {"filesystem": {"rootdirectory": os.path.join(self.state_dir, "data")},
                        "delete": {"enabled": True}},
            "http": {"addr": self.endpoint, "headers": {"X-Content-Type-Options": ["nosniff"]}},
        }


def insecure_registries(gateway: str | None, extra: str | None) -> tuple[str, ...]:
    """What engines trust over plain HTTP: the cluster's registry (when it has one) and the
    template's ``insecure_registry``."""
    return tuple(entry for entry in (f"{gateway}:{PORT}" if gateway else None, extra) if entry)


def ensure(reg: Registry) -> None:
    """The registry runs with its current configuration (started or restarted as needed)."""
    if shutil.which(BINARY) is None:
        raise PermanentError("A cluster with a registry needs docker-registry on the "
                             "conductor's host: apt-get install docker-registry")
    guard(reg)
    os.makedirs(os.path.join(reg.state_dir, "data"), exist_ok=True)
    os.makedirs(reg.run_dir, exist_ok=True)
    text = json.dumps(reg.build(), indent=1, sort_keys=True)
    want = hashlib.sha256(text.encode()).hexdigest()
    pid = pid_of(reg)
    if pid is not None and _read(os.path.join(reg.run_dir, STARTED)) == want:
        return
    if pid is not None:
        stop(reg, timeout=5.0)
    network.write_json(reg.config_path, reg.build())
    with open(os.path.join(reg.state_dir, LOG), "ab") as log:
        process = subprocess.Popen(
            [BINARY, "serve", reg.config_path], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, cwd=reg.state_dir,
            # NOTE: REGISTRY_* variables would override the config file; pass none.
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    with open(reg.pidfile, "w") as handle:
        handle.write(f"{process.pid}\n")
    with open(os.path.join(reg.run_dir, STARTED), "w") as handle:
        handle.write(want)


def pid_of(reg: Registry) -> int | None:
    """The live registry process of this cluster, or None (no pid file, dead, zombie, reused)."""
    try:
        pid = int(_read(reg.pidfile) or "")
    except ValueError:
        return None
    return pid if pid in engine.processes_using(reg.config_path) else None


def ready(reg: Registry) -> bool:
    """The registry answers its API root (``GET /v2/``) on the cluster's bridge."""
    with requests.Session() as session:
        session.trust_env = False  # NOTE: never through $HTTP_PROXY
        try:
            return session.get(f"http://{reg.endpoint}/v2/", timeout=READY_TIMEOUT).ok
        except requests.RequestException:
            return False


def publish(reg: Registry, api: docker.APIClient, wait: float) -> bool:
    """Push the busybox image from this engine (which has it) to the registry, once. False
    while the registry is not answering yet."""
    marker = os.path.join(reg.state_dir, PUSHED)
    if os.path.exists(marker):
        return True
    deadline = time.monotonic() + wait
    while not ready(reg):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    repository = reg.image.rsplit(":", 1)[0]
    api.tag(image.NAME, repository, image.TAG)
    for line in api.push(repository, tag=image.TAG, stream=True, decode=True):
        if "error" in line:
            raise docker.errors.APIError(f"pushing {reg.image}: {line['error']}")
    with open(marker, "w") as handle:
        handle.write(f"{reg.image}\n")
    return True


def stop(reg: Registry, timeout: float) -> None:
    pid = pid_of(reg)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while processes.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _comment(short: str) -> str:
    return f"magna-registry-{short}"


def _guard_rule(reg: Registry) -> list[str]:
    return ["INPUT", "-d", f"{reg.allocation.gateway}/32", "-p", "tcp", "--dport", str(PORT),
            "!", "-s", str(reg.allocation.subnet), "-m", "comment", "--comment",
            _comment(reg.short), "-j", "REJECT", "--reject-with", "tcp-reset"]


def guard(reg: Registry) -> None:
    """Only the cluster's own subnet (its nodes, and the host through the bridge's address)
    may connect to the registry."""
    host.ensure_rule("iptables", _guard_rule(reg))


def unguard(short: str) -> None:
    """Remove the INPUT rule of cluster ``short`` (idempotent; needs nothing but the id)."""
    for line in host.run("iptables", "-w", "-S", "INPUT").splitlines():
        fields = line.split()
        if fields[:1] == ["-A"] and _comment(short) in fields:
            host.probe("iptables", "-w", "-D", *fields[1:])


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None
