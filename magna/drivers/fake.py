"""The fake driver (entry point ``fake``): infrastructure made of files, for workflow tests.

It exists so that conductor tests can exercise what real drivers make hard to provoke: a
conductor killed with ``kill -9`` halfway through a create, two conductors working on the same
cluster, a create that fails twice and then succeeds, a delete that fails. It is never the
default driver and never what the README runs; enable it with ``[drivers] enabled_drivers =
fake``.

Its "infrastructure" is real state on disk, shared by every process that uses the same
``state_dir``, so a test can look for orphans and overlaps after the fact (the readers of these
files live with the tests, in ``tests/support/fake_driver.py``)::

    <state_dir>/fake-driver/
        operations.log               one "start"/"end" line per apply, delete and collect
        <cluster_uuid>/
            cluster.json             written when an apply converged (generation, template, CA)
            counter                  last node number handed out; numbers are never reused
            attempts-<phase>         how often an injected failure was considered
            nodes/<ng-name>-<n>.json one file per node: name, nodegroup, role, address, created_at

Nodes are created and removed one at a time, each after sleeping ``fake_node_seconds``, so a
test can kill a conductor in the middle; before each one the driver passes a fencing checkpoint
(``drivers/fencing.py``), so a conductor whose heartbeat is overdue stops there. Files are
replaced atomically, so a killed process leaves a node either fully there or not at all.
Addresses are strings from a per-cluster /24 in 10.250.0.0/16 and are never contacted.

Failure injection comes from the cluster's labels: ``fake_fail_on`` (comma list of ``create``,
``update``, ``delete``) with ``fake_fail_times`` (default: always), ``fake_temporary`` (the first
N applies raise ``TemporaryError``), ``fake_apply_seconds``, ``fake_node_seconds`` and
``fake_unhealthy`` (comma list of node names reported unhealthy).

A test that asserts a state which lasts only while the driver works (``*_IN_PROGRESS``, no nodes
yet) holds the driver there instead of racing it: with the label ``fake_hold=<gate>``, every
apply and delete of the cluster waits at its start, before touching any node, for as long as the
file ``<state_dir>/fake-holds/<gate>`` exists. The test creates the file, makes its request,
asserts, and removes the file to let the operation go on. Containers are held the same way
(``magna.drivers.fake_containers``).

Containers (``/v1/containers``) are files too: see ``magna.drivers.fake_containers``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from oslo_config import cfg

from magna.common.exceptions import PermanentError, TemporaryError
from magna.drivers import fencing
from magna.drivers.base import (
    ClusterPKI,
    ClusterSpec,
    ClusterType,
    Driver,
    GarbageCollecting,
    NodeGroupSpec,
    NodeStatus,
    Observed,
)
from magna.drivers.catalog import Catalog, Flavor, Image, Keypair, KeypairFiles, Network
from magna.drivers.fake_containers import FakeContainers, check_gate, wait_while_held

ROOT = "fake-driver"
LOG_NAME = "operations.log"
VERSION = "fake-1.0"
PHASES = ("create", "update", "delete")
UNHEALTHY_REASON = "marked unhealthy by label"
MAX_NODES = 254  # addresses of a cluster's /24 (``_address``)
HOLDS = "fake-holds"  # beside ROOT: garbage collection owns every directory under ROOT

IMAGES = (Image(id="fd8180c3-2e3b-4793-a374-5615a45dc03f", name="fake-image", os_distro="fake"),)
FLAVORS = (
    Flavor(id="1", name="m1.tiny", vcpus=1, ram_mb=512, disk_gb=1),
    Flavor(id="2", name="m1.small", vcpus=1, ram_mb=2048, disk_gb=20),
    Flavor(id="3", name="m1.medium", vcpus=2, ram_mb=4096, disk_gb=40),
)
NETWORKS = (Network(id="381574d0-16ec-4634-abf5-2c12f6bf1f68", name="public", external=True),)
KEYPAIRS = (Keypair(name="fake-key", public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDtqJ7zOtqQ"
                                                "tYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop fake-key"),)


class FakeCatalog(KeypairFiles):
    """The fake images, flavors and network; ``fake-key`` plus keys uploaded to
    ``<state_dir>/fake-keypairs``."""

    def images(self) -> Sequence[Image]:
        return IMAGES

    def flavors(self) -> Sequence[Flavor]:
        return FLAVORS

    def networks(self) -> Sequence[Network]:
        return NETWORKS

    def keypairs(self, project_id: str | None) -> Sequence[Keypair]:
        return [*KEYPAIRS, *super().keypairs(project_id)]


def _names(value: str) -> frozenset[str]:
    return frozenset(item.strip() for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class Injection:
    """The failure-injection labels of one cluster, parsed."""

    fail_on: frozenset[str] = frozenset()
    fail_times: int = 1_000_000
    temporary: int = 0
    apply_seconds: float = 0.0
    node_seconds: float = 0.0
    hold: str = ""

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> Injection:
        try:
            injection = cls(fail_on=_names(labels.get("fake_fail_on", "")),
                            fail_times=int(labels.get("fake_fail_times", "1000000")),
                            temporary=int(labels.get("fake_temporary", "0")),
                            apply_seconds=float(labels.get("fake_apply_seconds", "0")),
                            node_seconds=float(labels.get("fake_node_seconds", "0")),
                            hold=labels.get("fake_hold", ""))
        except ValueError as exc:
            raise PermanentError(f"fake driver: bad label value ({exc}).") from None
        check_gate(injection.hold)
        unknown = injection.fail_on - set(PHASES)
        if unknown:
            raise PermanentError(f"fake driver: fake_fail_on names unknown phases "
                                 f"{', '.join(sorted(unknown))}; known: {', '.join(PHASES)}.")
        return injection


@dataclass(frozen=True)
class FakeNode:
    name: str
    nodegroup: str
    role: str
    address: str
    created_at: str

    @property
    def number(self) -> int:
        return int(self.name.rsplit("-", 1)[1])


def _write_atomic(path: str, text: str) -> None:
    # NOTE: write-then-rename, so a process killed mid-write leaves the old file or the new one,
    # never half of one. No fsync: the tests kill processes, not the machine.
    tmp = f"{path}.{os.getpid()}-{threading.get_native_id()}.tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _address(cluster_uuid: str, number: int) -> str:
    # NOTE: 256 subnets for any number of clusters and 254 hosts per subnet, so addresses can
    # repeat across clusters or wrap within one; they are labels, nothing connects to them.
    subnet = hashlib.sha256(cluster_uuid.encode()).digest()[0]
    return f"10.250.{subnet}.{(number - 1) % 254 + 1}"


class ClusterFiles:
    """The files of one cluster under ``<root>/<cluster_uuid>/``."""

    def __init__(self, root: str, cluster_uuid: str) -> None:
        if cluster_uuid in ("", ".", "..") or os.path.basename(cluster_uuid) != cluster_uuid:
            raise PermanentError(f"fake driver: {cluster_uuid!r} is not a usable cluster id.")
        self.uuid = cluster_uuid
        self.path = os.path.join(root, cluster_uuid)
        self.nodes_dir = os.path.join(self.path, "nodes")

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def applied(self) -> bool:
        return os.path.exists(os.path.join(self.path, "cluster.json"))

    def nodes(self) -> list[FakeNode]:
        if not os.path.isdir(self.nodes_dir):
            return []
        found = []
        for entry in os.listdir(self.nodes_dir):
            if entry.endswith(".json"):
                with contextlib.suppress(FileNotFoundError), \
                        open(os.path.join(self.nodes_dir, entry)) as handle:
                    found.append(FakeNode(**json.load(handle)))
        return sorted(found, key=lambda node: (node.nodegroup, node.number))

    def bump(self, counter: str) -> int:
        """Increment a counter file under a lock shared by all processes; return the old value."""
        os.makedirs(self.path, exist_ok=True)
        path = os.path.join(self.path, counter)
        with open(f"{path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(path) as handle:
                    value = int(handle.read().strip() or "0")
            except FileNotFoundError:
                value = 0
            _write_atomic(path, f"{value + 1}\n")
        return value

    def add_node(self, nodegroup: NodeGroupSpec, number: int) -> None:
        os.makedirs(self.nodes_dir, exist_ok=True)
        node = FakeNode(name=f"{nodegroup.name}-{number}", nodegroup=nodegroup.name,
                        role=nodegroup.role, address=_address(self.uuid, number),
                        created_at=datetime.now(UTC).isoformat())
        _write_atomic(os.path.join(self.nodes_dir, f"{node.name}.json"),
                      json.dumps(node.__dict__, indent=1) + "\n")

    def remove_node(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.nodes_dir, f"{name}.json"))

    def write_cluster(self, record: Mapping[str, Any]) -> None:
        os.makedirs(self.path, exist_ok=True)
        _write_atomic(os.path.join(self.path, "cluster.json"), json.dumps(record, indent=1))


def _surplus(nodes: Sequence[FakeNode], target: int, named: Sequence[str]) -> list[FakeNode]:
    """Which nodes to remove to get down to ``target``: the named ones first, then the newest."""
    excess = len(nodes) - target
    if excess <= 0:
        return []
    chosen = [node for node in nodes if node.name in named]
    newest = sorted((node for node in nodes if node.name not in named),
                    key=lambda node: node.number, reverse=True)
    return (chosen + newest)[:excess]


def _targets(spec: ClusterSpec) -> dict[str, int]:
    return {ng.name: ng.node_count if ng.present else 0 for ng in spec.nodegroups}


def _matches(spec: ClusterSpec, nodes: Sequence[FakeNode]) -> bool:
    targets = _targets(spec)
    if any(node.nodegroup not in targets for node in nodes):
        return False
    return all(sum(1 for node in nodes if node.nodegroup == name) == count
               for name, count in targets.items())


def _status(node: FakeNode, unhealthy: frozenset[str]) -> NodeStatus:
    sick = node.name in unhealthy
    return NodeStatus(name=node.name, nodegroup=node.nodegroup, role=node.role,
                      address=node.address, healthy=not sick,
                      reason=UNHEALTHY_REASON if sick else "")


class FakeDriver(Driver, GarbageCollecting, FakeContainers):
    name = "fake"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.root = os.path.join(conf.state_dir, ROOT)
        self.log_path = os.path.join(self.root, LOG_NAME)
        self._host = "_".join(str(conf.host).split()) or "-"
        # NOTE: beside ROOT, not in it: garbage collection owns every directory under ROOT.
        self._catalog = FakeCatalog(os.path.join(conf.state_dir, "fake-keypairs"))
        self.holds = os.path.join(conf.state_dir, HOLDS)

    @property
    def provides(self) -> Sequence[ClusterType]:
        return [ClusterType("vm", "fake", "swarm-mode"), ClusterType("vm", "fake", "kubernetes")]

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def validate(self, spec: ClusterSpec) -> None:
        Injection.from_labels(spec.labels)

    def check_size(self, nodes: int) -> None:
        if nodes > MAX_NODES:
            raise PermanentError(f"A fake cluster holds at most {MAX_NODES} nodes (one /24 of "
                                 f"addresses per cluster), not {nodes}.")

    def apply(self, spec: ClusterSpec, pki: ClusterPKI) -> Observed:
        with self._operation(spec.uuid):
            injection = Injection.from_labels(spec.labels)
            wait_while_held(self.holds, injection.hold)
            time.sleep(injection.apply_seconds)
            files = ClusterFiles(self.root, spec.uuid)
            self._inject_apply(files, injection)
            for nodegroup in spec.nodegroups:
                self._converge(files, nodegroup, injection.node_seconds)
            self._remove_strays(files, spec, injection.node_seconds)
            files.write_cluster({
                "generation": spec.generation,
                "template_uuid": spec.template_uuid,
                "ca_fingerprint": hashlib.sha256(pki.ca_pem.encode()).hexdigest(),
            })
            return self._observed(spec, files)

    def delete(self, spec: ClusterSpec) -> bool:
        with self._operation(spec.uuid):
            injection = Injection.from_labels(spec.labels)
            wait_while_held(self.holds, injection.hold)
            files = ClusterFiles(self.root, spec.uuid)
            self._inject_failure(files, injection, "delete")
            for node in sorted(files.nodes(), key=lambda node: node.number, reverse=True):
                self._remove(files, node.name, injection.node_seconds)
            shutil.rmtree(files.path, ignore_errors=True)
            # NOTE: False only when something raced us and wrote into the directory meanwhile.
            return not files.exists()

    def observe(self, spec: ClusterSpec, pki: ClusterPKI) -> Observed:
        files = ClusterFiles(self.root, spec.uuid)
        return self._observed(spec, files)

    def leftovers(self, known_clusters: set[str]) -> list[str]:
        if not os.path.isdir(self.root):
            return []
        return sorted(entry for entry in os.listdir(self.root)
                      if os.path.isdir(os.path.join(self.root, entry))
                      and entry not in known_clusters)

    def collect(self, cluster_uuid: str) -> None:
        # NOTE: logged like apply and delete, so a collector racing a conductor shows up in
        # the tests' overlap check too.
        with self._operation(cluster_uuid):
            shutil.rmtree(ClusterFiles(self.root, cluster_uuid).path, ignore_errors=True)

    # -- failure injection ------------------------------------------------------------------

    def _inject_apply(self, files: ClusterFiles, injection: Injection) -> None:
        if injection.temporary and files.bump("attempts-temporary") < injection.temporary:
            raise TemporaryError("fake driver: still converging", delay=0.2)
        self._inject_failure(files, injection, "update" if files.applied() else "create")

    def _inject_failure(self, files: ClusterFiles, injection: Injection, phase: str) -> None:
        if phase in injection.fail_on and files.bump(f"attempts-{phase}") < injection.fail_times:
            raise PermanentError(f"fake driver: injected {phase} failure")

    # -- convergence --------------------------------------------------------------------------

    def _converge(self, files: ClusterFiles, nodegroup: NodeGroupSpec, pause: float) -> None:
        mine = [node for node in files.nodes() if node.nodegroup == nodegroup.name]
        target = nodegroup.node_count if nodegroup.present else 0
        for node in _surplus(mine, target, nodegroup.nodes_to_remove):
            self._remove(files, node.name, pause)
        for _ in range(target - len(mine)):
            time.sleep(pause)
            fencing.checkpoint()
            files.add_node(nodegroup, files.bump("counter") + 1)

    def _remove_strays(self, files: ClusterFiles, spec: ClusterSpec, pause: float) -> None:
        """Nodes of nodegroups the spec no longer names at all are removed too."""
        known = _targets(spec)
        for node in files.nodes():
            if node.nodegroup not in known:
                self._remove(files, node.name, pause)

    def _remove(self, files: ClusterFiles, name: str, pause: float) -> None:
        time.sleep(pause)
        fencing.checkpoint()
        files.remove_node(name)

    def _observed(self, spec: ClusterSpec, files: ClusterFiles) -> Observed:
        nodes = files.nodes()
        unhealthy = _names(spec.labels.get("fake_unhealthy", ""))
        masters = [node for node in nodes if node.role == "master"]
        return Observed(
            converged=_matches(spec, nodes),
            api_address=f"tcp://{masters[0].address}:2375" if masters else None,
            stack_id=spec.uuid if files.exists() else None,
            coe_version=VERSION,
            container_version=VERSION,
            nodes=[_status(node, unhealthy) for node in nodes],
        )

    # -- exclusivity log ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _operation(self, cluster_uuid: str) -> Iterator[None]:
        self._log("start", cluster_uuid)
        try:
            yield
        finally:
            self._log("end", cluster_uuid)

    def _log(self, event: str, cluster_uuid: str) -> None:
        os.makedirs(self.root, exist_ok=True)
        # NOTE: the thread id is a sixth field, so two threads of one conductor working on the
        # same cluster count as an overlap too.
        line = (f"{event} {cluster_uuid} {os.getpid()} {self._host} {time.time():.6f} "
                f"{threading.get_native_id()}\n")
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
