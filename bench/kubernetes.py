"""Kubernetes clusters on the local Kubernetes driver: create, scale and delete times, and what
a node and a control plane cost in memory.

The driver is driven directly, as ``tests/functional/test_local_kubernetes.py`` does (a
hand-made ``ClusterSpec``, a CA made for the run), so the times are the driver's own: no API,
no conductor sweep. A step's time runs from its first ``apply`` until an ``apply`` reports the
cluster converged: every node registered and Ready, every agent running, no node left that the
spec no longer has. Between applies that are not done yet the loop waits ``POLL`` seconds;
``apply`` itself looks every 0.5 s, which is the resolution of these times.

Steps on one 1+2 cluster: create until all nodes Ready, scale the workers +1 until the new one
is Ready, scale -1 (no tenant pods, so the drain has nothing to wait for) until the node is
gone, delete until nothing of the cluster is left. Memory is read after the create settles:
the PSS of every process in each worker's cgroup (engine, containerd, kubelet, kube-proxy, the
pause shims and the ``nsenter`` each agent hangs from), and of the four control-plane programs
of the master (etcd, kube-apiserver, kube-controller-manager, kube-scheduler).

Whatever happens, the cluster is deleted when the suite ends, through the driver and then by
force (``ip netns``) if the driver left anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
from oslo_config import cfg

from bench.settings import Settings
from bench.stats import spread, target
from magna import conf as magna_conf
from magna.common.exceptions import TemporaryError
from magna.conductor.spec import ClusterCA
from magna.crypto import x509
from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
from magna.drivers.local_nodes import limits, network

LOG = logging.getLogger(__name__)
POLL = 0.1
SETTLE_S = 5.0
STEP_TIMEOUT = 300.0
# A subnet pool of its own, so benchmark clusters never compete with other local clusters.
POOL = "10.237.0.0/16"
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


@dataclasses.dataclass
class Bench:
    """The driver under measurement, the cluster's CA and its current spec."""

    driver: LocalKubernetesDriver
    pki: ClusterCA
    spec: ClusterSpec

    @property
    def short(self) -> str:
        return network.short_id(self.spec.uuid)


def _conf(state_dir: Path) -> cfg.ConfigOpts:
    return magna_conf.load([], [], overrides={"DEFAULT": {"state_dir": str(state_dir)},
                                               "local_kubernetes": {"subnet_pool": POOL}})


def _ca(conf: cfg.ConfigOpts) -> ClusterCA:
    policy = x509.SigningPolicy(allowed_extensions=conf.x509.allowed_extensions,
                                allowed_key_usage=conf.x509.allowed_key_usage)
    pair = x509.generate_ca("bench-kubernetes", key_size=2048, days=2,
                            now=dt.datetime.now(dt.UTC))
    return ClusterCA(pair, policy, days=2)


def _spec(masters: int, workers: int) -> ClusterSpec:
    def group(role: str, count: int) -> NodeGroupSpec:
        return NodeGroupSpec(uuid=role, name=f"default-{role}", role=role, node_count=count,
                             flavor_id="m1.small", image_id=None)

    return ClusterSpec(uuid=str(uuid.uuid4()), name="bench", project_id="bench",
                       coe="kubernetes", generation=1, template_uuid="bench",
                       image_id="fedora-coreos-latest", labels={},
                       nodegroups=(group("master", masters), group("worker", workers)))


def _with_workers(spec: ClusterSpec, count: int) -> ClusterSpec:
    groups = tuple(dataclasses.replace(ng, node_count=count) if ng.role == "worker" else ng
                   for ng in spec.nodegroups)
    return dataclasses.replace(spec, nodegroups=groups, generation=spec.generation + 1)


def _converge(bench: Bench) -> float:
    """Seconds from the first apply to an apply that reports the cluster converged."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < STEP_TIMEOUT:
        try:
            observed = bench.driver.apply(bench.spec, bench.pki)
            if observed.converged:
                return time.monotonic() - started
            last = [f"{n.name}: {n.reason}" for n in observed.nodes if not n.healthy]
        except TemporaryError as exc:
            last = exc
        time.sleep(POLL)
    raise RuntimeError(f"the cluster did not converge in {STEP_TIMEOUT:.0f} s: {last}")


def _delete(bench: Bench) -> float:
    started = time.monotonic()
    while not bench.driver.delete(bench.spec):
        if time.monotonic() - started > STEP_TIMEOUT:
            raise RuntimeError("the cluster was not gone after its delete")
        time.sleep(POLL)
    return time.monotonic() - started


def _namespaces(short: str) -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            check=False).stdout.split("\n")
    return [line.split()[0] for line in listed if line.startswith(f"magna-{short}-")]


def _force_remove(short: str) -> None:
    """What the driver could not remove: the node namespaces' processes and the namespaces."""
    for netns in _namespaces(short):
        pids = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True,
                              check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)


def _pss_by_program(cgroup: str) -> tuple[dict[str, float], int]:
    """PSS in MiB of every process in ``cgroup`` by program name, and how many there are."""
    by_program: dict[str, float] = defaultdict(float)
    pids = limits.pids_in(cgroup)
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, IndexError):
            process = psutil.Process(pid)
            name = os.path.basename(process.cmdline()[0])
            by_program[name] += getattr(process.memory_full_info(), "pss", 0) / 2**20
    return dict(by_program), len(pids)


def _memory(bench: Bench) -> dict[str, Any]:
    nodes = bench.driver._members(bench.spec)
    workers, control_planes, masters = [], [], []
    for node in nodes:
        by_program, count = _pss_by_program(node.engine.cgroup_parent)
        if node.role == "master":
            control_planes.append(sum(by_program.get(name, 0.0) for name in CONTROL_PLANE))
            masters.append(sum(by_program.values()))
            continue
        workers.append({"node": node.name, "processes": count,
                        "pss_mib": round(sum(by_program.values()), 1),
                        "by_program_mib": {k: round(v, 1) for k, v in sorted(by_program.items())}})
    return {"worker_pss_mib": [w["pss_mib"] for w in workers],
            "control_plane_pss_mib": [round(x, 1) for x in control_planes],
            "master_node_pss_mib": [round(x, 1) for x in masters],
            "workers": workers}


@contextlib.contextmanager
def _cluster(settings: Settings) -> Iterator[Bench]:
    """A driver on a scratch state dir and a 1+2 spec; the cluster is gone afterwards."""
    state_dir = Path(tempfile.mkdtemp(prefix="kubernetes-", dir=settings.work))
    conf = _conf(state_dir)
    bench = Bench(LocalKubernetesDriver(conf), _ca(conf), _spec(1, 2))
    version = bench.driver.version(bench.spec)
    if not bench.driver.binaries.is_built(version):
        raise RuntimeError(f"Kubernetes {version} is not built on this host; run "
                           f"`magna kubernetes-build` first")
    try:
        yield bench
    finally:
        try:
            _delete(bench)
        finally:
            _force_remove(bench.short)
            shutil.rmtree(state_dir, ignore_errors=True)


def _timed(samples: dict[str, list[float]], name: str, step: Callable[[], float]) -> None:
    samples[name].append(step())
    LOG.info("bench: kubernetes %s %.2f s", name, samples[name][-1])


def run(settings: Settings) -> dict[str, Any]:
    samples: dict[str, list[float]] = defaultdict(list)
    with _cluster(settings) as bench:
        _timed(samples, "create 1+2", lambda: _converge(bench))
        time.sleep(SETTLE_S)
        memory = _memory(bench)
        bench.spec = _with_workers(bench.spec, 3)
        _timed(samples, "scale +1", lambda: _converge(bench))
        bench.spec = _with_workers(bench.spec, 2)
        _timed(samples, "scale -1", lambda: _converge(bench))
        _timed(samples, "delete 1+2", lambda: _delete(bench))
        left = _namespaces(bench.short)
    steps = {name: spread(values) for name, values in samples.items()}
    return {"poll_s": POLL, "steps": steps, "memory": memory,
            "left_after_delete": left, "targets": _targets(steps)}


def _targets(steps: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    create = steps.get("create 1+2", {}).get("median_s")
    return [target("Kubernetes create 1+2, all nodes Ready", create, 15, "s")]
