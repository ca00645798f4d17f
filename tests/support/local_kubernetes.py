"""What the tests of the local Kubernetes driver share, and the other tests that build its
clusters: specs, convergence, the driver and a cluster as fixtures, cleanup and its check.

The driver is driven directly, with a hand-made ``ClusterSpec`` (``make_spec``) and the tiny PKI
of the swarm tests (``tests.support.local_swarm.TinyPKI``). ``binaries_built`` is a module's
autouse fixture: the host-wide cache has the Kubernetes binaries (a build in progress is waited
for) before its first test. ``removed_after`` deletes a cluster however a test ends and then
sweeps the host by force; ``assert_nothing_left`` checks the host for anything of the cluster.

These lived in ``test_local_kubernetes.py``; the storage, label, object, SSH and example tests
build Kubernetes clusters with them too, so they are here rather than imported from a test module.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from magna.common.exceptions import TemporaryError
from magna.drivers.base import ClusterSpec, NodeGroupSpec, Observed
from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
from magna.drivers.local_nodes import engine, limits, network, teardown
from magna.drivers.local_nodes.node import LocalNode
from tests.conftest import make_conf
from tests.support.kubernetes import bin_dir
from tests.support.local_swarm import TinyPKI, brute_force_cleanup


def make_spec(masters: int = 1, workers: int = 2, **overrides: object) -> ClusterSpec:
    fields: dict[str, object] = dict(
        uuid=str(uuid.uuid4()), name="k", project_id="p", coe="kubernetes",
        generation=1, template_uuid="tpl", image_id="fedora-coreos-latest", labels={},
        nodegroups=(NodeGroupSpec(uuid="m", name="default-master", role="master",
                                  node_count=masters, flavor_id="m1.small", image_id=None),
                    NodeGroupSpec(uuid="w", name="default-worker", role="worker",
                                  node_count=workers, flavor_id="m1.small", image_id=None)))
    fields.update(overrides)
    return ClusterSpec(**fields)  # type: ignore[arg-type]


def converge(driver: LocalKubernetesDriver, spec: ClusterSpec, pki: TinyPKI,
             timeout: float = 180) -> Observed:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            observed = driver.apply(spec, pki)
            if observed.converged:
                return observed
            last = [n for n in observed.nodes if not n.healthy]
        except TemporaryError as exc:
            last = exc
        assert time.monotonic() < deadline, f"the cluster did not converge: {last}"
        time.sleep(0.5)


@pytest.fixture(scope="module", autouse=True)
def binaries_built() -> None:
    bin_dir()


@pytest.fixture
def driver(tmp_path: Path) -> LocalKubernetesDriver:
    return LocalKubernetesDriver(make_conf(tmp_path / "state"))


@contextlib.contextmanager
def removed_after(driver: LocalKubernetesDriver, spec: ClusterSpec) -> Iterator[None]:
    """The cluster is deleted at the end (and whatever of it is left, removed by force)."""
    try:
        yield
    finally:
        try:
            assert driver.delete(spec)
        finally:
            brute_force_cleanup(network.short_id(spec.uuid))


@pytest.fixture
def cluster(driver: LocalKubernetesDriver) -> Iterator[tuple[ClusterSpec, TinyPKI]]:
    spec, pki = make_spec(), TinyPKI()
    with removed_after(driver, spec):
        yield spec, pki


def members(driver: LocalKubernetesDriver, spec: ClusterSpec) -> dict[str, LocalNode]:
    return {node.name: node for node in driver._members(spec)}


def assert_nothing_left(driver: LocalKubernetesDriver, cluster_uuid: str) -> None:
    short = network.short_id(cluster_uuid)
    run = lambda *a: subprocess.run(a, capture_output=True, text=True).stdout  # noqa: E731
    assert f"magna-{short}-" not in run("ip", "netns", "list")
    assert not [link for link in os.listdir("/sys/class/net") if short in link]
    assert short not in run("iptables", "-w", "-S") + run("ip6tables", "-w", "-S")
    cluster_dir = os.path.join(driver.nodes.settings.root, cluster_uuid)
    assert not engine.processes_using(cluster_dir, f"/run/magna/{short}")
    assert not limits.pids_in(teardown.cluster_cgroup(cluster_uuid))
    assert not os.path.exists(cluster_dir)
    assert not os.path.exists(f"/run/magna/{short}")
    with open("/proc/self/mountinfo") as handle:
        assert cluster_uuid not in handle.read()
