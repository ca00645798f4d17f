"""Workload images without the internet: the busybox image on every node, the per-cluster
registry, no public pulls, and a Swarm service whose published port answers HTTP from the host.

Real engines and a real ``docker-registry``, driven as in ``test_local_swarm`` (with the helpers
of ``tests/support/local_swarm.py``). Timings are printed (run with ``-s``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import docker
import pytest
import requests

from magna.common import processes
from magna.drivers.base import ClusterSpec
from magna.drivers.local_nodes import engine, image, network, registry
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.local_swarm import (
    NEEDS_ENGINES,
    TinyPKI,
    assert_nothing_left,
    brute_force_cleanup,
    cleaned,
    converge,
    docker_cli,
    make_spec,
    run,
)

pytestmark = NEEDS_ENGINES
needs_registry = pytest.mark.skipif(shutil.which("docker-registry") is None,
                                    reason="needs docker-registry")
SERVICE = ["service", "create", "--name", "web", "--endpoint-mode", "dnsrr", "--mode", "global",
           "--publish", "mode=host,target=8080,published=8080"]
HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/www"]


@pytest.fixture
def driver(tmp_path: Path) -> LocalSwarmDriver:
    return LocalSwarmDriver(make_conf(tmp_path / "state"))


@contextlib.contextmanager
def cleaned_with_registry(driver: LocalSwarmDriver, cluster_uuid: str) -> Iterator[None]:
    short = network.short_id(cluster_uuid)
    try:
        with cleaned(driver, cluster_uuid):
            yield
    finally:
        registry.unguard(short)  # in case delete itself failed


def small_spec(**overrides: object) -> ClusterSpec:
    master, worker = make_spec().nodegroups
    return make_spec(nodegroups=(master, replace(worker, node_count=1)), **overrides)


def node_socket(driver: LocalSwarmDriver, spec: ClusterSpec, index: int) -> str:
    allocation = network.read_allocation(os.path.join(driver.root, spec.uuid))
    assert allocation is not None
    return driver.nodes.planned(spec, allocation)[index].engine.socket


def node_api(driver: LocalSwarmDriver, spec: ClusterSpec, index: int) -> docker.APIClient:
    return docker.APIClient(base_url=f"unix://{node_socket(driver, spec, index)}",
                            version="1.41", timeout=60)


def http_get(url: str, timeout: float = 90) -> str:
    """The page at ``url`` once the service's task listens (it is created asynchronously)."""
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        session.trust_env = False
        while True:
            try:
                response = session.get(url, timeout=3)
                if response.status_code == 200:
                    return response.text
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.5)


def in_node(netns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net=/run/netns/{netns}", *args],
                          capture_output=True, text=True, timeout=30, check=False)


def pulled_from(api: docker.APIClient, prefix: str) -> bool:
    return any(digest.startswith(prefix) for found in api.images()
               for digest in found.get("RepoDigests") or [])


def input_rules(short: str) -> list[str]:
    return [line for line in run("iptables", "-w", "-S", "INPUT").splitlines() if short in line]


@needs_registry
def test_registry_image_serves_http_and_delete_removes_registry(
        driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki = small_spec(registry_enabled=True), TinyPKI()
    short = network.short_id(spec.uuid)
    with cleaned_with_registry(driver, spec.uuid):
        started = time.monotonic()
        observed = converge(driver, spec, pki, timeout=240)
        print(f"\nlocal-swarm create 1+1 with registry: {time.monotonic() - started:.1f}s")
        allocation = network.read_allocation(os.path.join(driver.root, spec.uuid))
        assert allocation is not None
        gateway = str(allocation.gateway)
        pushed = f"{gateway}:5000/magna/busybox:latest"
        assert any(pushed in note for note in observed.notes), observed.notes

        # One registry process for the cluster, recognised by pid file and command line.
        reg = driver.nodes.registry(spec.uuid, allocation)
        pid = registry.pid_of(reg)
        assert pid is not None and pid in engine.processes_using(driver.nodes.run_dir(spec.uuid))
        assert len(input_rules(f"magna-registry-{short}")) == 1  # the guard
        assert len(input_rules(f"magna-in-{short}")) == 1  # the jump to the fence

        # Reachable from a node's namespace; the image is in its catalog.
        netns = network.netns_name(spec.uuid, "default-worker-0")
        done = in_node(netns, "busybox", "wget", "-q", "-O", "-",
                       f"http://{gateway}:5000/v2/_catalog")
        assert done.returncode == 0, done.stderr
        assert "magna/busybox" in json.loads(done.stdout)["repositories"]
        worker = driver.nodes.planned(spec, allocation)[1]
        assert worker.name == "default-worker-0"
        daemon = json.loads(Path(worker.engine.config_path).read_text())
        assert daemon["insecure-registries"] == [f"{gateway}:5000"]

        # A second pass finds the running registry and does not push again.
        assert driver.apply(spec, pki).converged
        assert registry.pid_of(reg) == pid

        # A registry that died is started again, and its storage kept the image.
        os.kill(pid, signal.SIGKILL)
        converge(driver, spec, pki)
        restarted = registry.pid_of(reg)
        assert restarted not in (None, pid)
        done = in_node(netns, "busybox", "wget", "-q", "-O", "-",
                       f"http://{gateway}:5000/v2/magna/busybox/tags/list")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["tags"] == ["latest"]
        pid = restarted

        # The worker has nothing from the registry yet: its task must pull it.
        worker = node_api(driver, spec, 1)
        assert not pulled_from(worker, f"{gateway}:5000/magna/busybox@")
        api_address = observed.api_address
        assert api_address is not None
        started = time.monotonic()
        docker_cli(pki, api_address, tmp_path, *SERVICE, pushed, *HTTPD)
        for node in observed.nodes:
            page = http_get(f"http://{node.address}:8080/")
            assert "Hello from a Magna cluster" in page
        print(f"service from the registry answers on both nodes: "
              f"{time.monotonic() - started:.1f}s")
        assert pulled_from(worker, f"{gateway}:5000/magna/busybox@")  # Swarm pins the digest
        worker.close()

        assert driver.delete(spec)
        assert not engine.processes_using(f"/run/magna/{short}")
        assert not processes.alive(pid)
        assert not input_rules(short)
        assert_nothing_left(driver, spec.uuid)


def test_local_image_serves_http_and_public_pulls_fail_fast(
        driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki = small_spec(), TinyPKI()
    with cleaned_with_registry(driver, spec.uuid):
        observed = converge(driver, spec, pki, timeout=240)
        assert any(image.NAME in note and ":5000/" not in note
                   for note in observed.notes), observed.notes
        assert not os.path.exists(os.path.join(driver.root, spec.uuid, "registry"))
        master = node_api(driver, spec, 0)

        # What one import costs (the decision to import into every node rests on it).
        started = time.monotonic()
        data = image.rootfs_tar()
        built = time.monotonic() - started
        master.remove_image(image.NAME)
        started = time.monotonic()
        image.load(master, data)
        print(f"\nbusybox image: tar {len(data) / 1e6:.1f} MB built in {built:.2f}s, "
              f"imported in {time.monotonic() - started:.2f}s")
        assert image.present(master)

        # No public pulls: no DNS, no route beyond the host, and it says so quickly.
        started = time.monotonic()
        pull = subprocess.run(["docker", "-H", f"unix://{node_socket(driver, spec, 0)}",
                               "pull", "busybox:latest"], capture_output=True, text=True,
                              timeout=120, check=False, env={"PATH": os.environ["PATH"],
                                                             "HOME": str(tmp_path)})
        elapsed = time.monotonic() - started
        print(f"docker pull busybox:latest on a node failed after {elapsed:.1f}s: "
              f"{pull.stderr.strip()}")
        assert pull.returncode != 0
        assert elapsed < 15  # rejected, not dropped: it took 20 s with DROP (DNS retries)
        master.close()

        api_address = observed.api_address
        assert api_address is not None
        docker_cli(pki, api_address, tmp_path, *SERVICE, image.NAME, *HTTPD)
        for node in observed.nodes:
            assert "Hello from a Magna cluster" in http_get(f"http://{node.address}:8080/")


@needs_registry
def test_garbage_collection_stops_the_registry_of_a_vanished_cluster(tmp_path: Path) -> None:
    first = LocalSwarmDriver(make_conf(tmp_path / "first"))
    other = LocalSwarmDriver(make_conf(tmp_path / "other"))
    spec, pki = make_spec(registry_enabled=True, nodegroups=make_spec().nodegroups[:1]), TinyPKI()
    short = network.short_id(spec.uuid)
    moved = tmp_path / "first-moved"
    try:
        converge(first, spec, pki, timeout=240)
        allocation = network.read_allocation(os.path.join(first.root, spec.uuid))
        assert allocation is not None
        pid = registry.pid_of(first.nodes.registry(spec.uuid, allocation))
        assert pid is not None
        os.rename(tmp_path / "first", moved)
        assert spec.uuid in other.leftovers(set())
        other.collect(spec.uuid)
        assert not processes.alive(pid)
        assert not input_rules(short)
        engine.unmount_under(str(moved))
        shutil.rmtree(moved)
        assert_nothing_left(first, spec.uuid)
    finally:
        brute_force_cleanup(short)
        registry.unguard(short)
        engine.unmount_under(str(moved))
