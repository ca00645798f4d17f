"""Sealed nodes, tried as a tenant would: real clusters built by the local driver, then the stock
docker CLI with a client certificate from the cluster's CA, talking TLS to a node's engine.

What a workload sees must be the node, never the host: a bind mount of ``/`` shows the node's
own root, ``/run`` is that node's run dir only, root in a container is an unprivileged host uid
from the cluster's own range, a workload's memory stays within the node's flavor without taking
the engine down, and deleting the cluster leaves nothing behind on the host.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from magna.common import processes
from magna.crypto import x509
from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.local_nodes import engine, limits, network, rootfs
from magna.drivers.local_nodes.cluster import LocalNodes
from magna.drivers.local_nodes.node import LocalNode
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.local_swarm import (
    NEEDS_ENGINES,
    TinyPKI,
    brute_force_cleanup,
    converge,
    make_spec,
)
from tests.support.local_swarm import assert_nothing_left as assert_no_cluster_left

pytestmark = NEEDS_ENGINES

IMAGE = "magna/busybox:latest"
MIB = 1024 * 1024


@dataclass
class Tenant:
    """One cluster and the docker environment its user gets."""

    spec: ClusterSpec
    pki: TinyPKI
    api: str
    node: LocalNode
    home: Path

    def docker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "--tlsverify", "--tlscacert", str(self.home / "ca.pem"),
             "--tlscert", str(self.home / "cert.pem"), "--tlskey", str(self.home / "key.pem"),
             "-H", self.api, *args],
            capture_output=True, text=True, timeout=timeout, check=False,
            env={"PATH": os.environ["PATH"], "HOME": str(self.home)})

    def ok(self, *args: str) -> str:
        done = self.docker(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def sh(self, script: str, *options: str) -> subprocess.CompletedProcess[str]:
        return self.docker("run", "--rm", *options, IMAGE, "sh", "-c", script)


def one_master() -> tuple[NodeGroupSpec, ...]:
    return (NodeGroupSpec(uuid="m", name="default-master", role="master", node_count=1,
                          flavor_id="m1.tiny", image_id=None),)


def build(driver: LocalSwarmDriver, home: Path) -> Tenant:
    spec, pki_ = make_spec(nodegroups=one_master()), TinyPKI()
    observed = converge(driver, spec, pki_)
    assert observed.api_address is not None
    allocation = network.read_allocation(os.path.join(driver.root, spec.uuid))
    assert allocation is not None
    node = driver.nodes.planned(spec, allocation)[0]
    home.mkdir(parents=True, exist_ok=True)
    key = x509.new_key(2048)
    cert = pki_.sign(x509.make_csr(common_name="tenant", organization=None, key=key))
    (home / "ca.pem").write_text(pki_.ca_pem)
    (home / "cert.pem").write_text(cert)
    (home / "key.pem").write_bytes(x509.key_to_pem(key))
    return Tenant(spec=spec, pki=pki_, api=observed.api_address, node=node, home=home)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> LocalSwarmDriver:
    return LocalSwarmDriver(make_conf(tmp_path_factory.mktemp("sealed") / "state"))


@pytest.fixture(scope="module")
def tenants(driver: LocalSwarmDriver, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Tenant, Tenant]]:
    """Two clusters whose engines run without the authorization plugin, whether Magna ships it
    or not: these tests try what the node's own root, namespaces and id remapping show a
    workload the plugin would let through (the plugin's refusals have their own tests)."""
    built: list[Tenant] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LocalNodes, "authz_root", property(lambda _self: None))
        yield from _built(driver, tmp_path_factory, built)


def _built(driver: LocalSwarmDriver, tmp_path_factory: pytest.TempPathFactory,
           built: list[Tenant]) -> Iterator[tuple[Tenant, Tenant]]:
    try:
        for name in ("first", "second"):
            built.append(build(driver, tmp_path_factory.mktemp(name)))
        yield built[0], built[1]
    finally:
        for tenant in built:
            try:
                driver.delete(tenant.spec)
            finally:
                brute_force_cleanup(network.short_id(tenant.spec.uuid))


def test_a_bind_mount_of_slash_shows_the_node_not_the_host(
        tenants: tuple[Tenant, Tenant], driver: LocalSwarmDriver) -> None:
    tenant = tenants[0]
    listing = tenant.sh("ls /host", "-v", "/:/host")
    assert listing.returncode == 0, listing.stderr
    # the node's own root and nothing else (opt/ holds the node's containerd's own files)
    assert set(listing.stdout.split()) == {"bin", "dev", "etc", "lib", "lib64", "opt", "proc",
                                           "root", "run", "sbin", "sys", "tmp", "usr", "var"}
    etc = tenant.sh("ls /host/etc", "-v", "/:/host").stdout.split()
    assert "shadow" not in etc and "passwd" in etc and "subuid" in etc
    shadow = tenant.sh("cat /host/etc/shadow", "-v", "/:/host")
    assert shadow.returncode != 0 and "No such file" in shadow.stderr
    for secret in (driver.root, os.path.dirname(os.path.dirname(driver.root)), "/run/magna",
                   "/root/.ssh", "/home", "/usr/local"):
        found = tenant.sh(f"test -e /host{secret} && echo visible || echo absent",
                          "-v", "/:/host")
        assert found.stdout.strip() == "absent", secret
    passwd = tenant.sh("cat /host/etc/passwd", "-v", "/:/host").stdout
    assert passwd.splitlines()[0] == "root:x:0:0:root:/root:/bin/sh"
    assert "dockremap" in passwd and len(passwd.splitlines()) == 3
    usr = set(tenant.sh("ls /host/usr", "-v", "/:/host").stdout.split())
    assert usr <= {os.path.basename(path) for path in rootfs.READ_ONLY}
    written = tenant.sh("touch /host/usr/bin/magna-was-here", "-v", "/:/host")
    assert written.returncode != 0
    assert not os.path.exists("/usr/bin/magna-was-here")


def test_run_is_this_nodes_run_dir_only(tenants: tuple[Tenant, Tenant]) -> None:
    first, second = tenants
    # NOTE: remapped root may not enter the engine's own directories at all (Permission denied)
    found = first.sh("find /r -name '*.sock' -o -name owner.json 2>/dev/null; true",
                     "-v", "/run:/r")
    assert found.returncode == 0, found.stderr
    sockets = found.stdout.split()
    assert "/r/docker.sock" in sockets
    assert all(path == "/r/docker.sock" or path.startswith(("/r/docker/", "/r/magna-seal/"))
               for path in sockets), sockets
    top = set(first.sh("ls -a /r", "-v", "/run:/r").stdout.split())
    assert not top & {"magna", "netns", network.short_id(second.spec.uuid), "owner.json",
                      "registry", "sshd", "postgresql"}


def host_pid(tenant: Tenant, container: str) -> int:
    """The host pid of a container's first process (``docker inspect`` gives the node's)."""
    full = json.loads(tenant.ok("inspect", container))[0]["Id"]
    cgroup = f"{tenant.node.engine.cgroup_parent}/{limits.WORKLOADS}/{full}"
    with open(os.path.join(limits.path("memory", cgroup), "cgroup.procs")) as handle:
        return min(int(pid) for pid in handle.read().split())


def host_ids(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as handle:
        fields = dict(line.split(":", 1) for line in handle.read().splitlines() if ":" in line)
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def ps_uid(pid: int) -> int:
    done = subprocess.run(["ps", "-o", "uid=", "-p", str(pid)], capture_output=True, text=True,
                          check=True)
    return int(done.stdout.strip())


def test_container_root_is_an_unprivileged_host_id_of_the_clusters_own_range(
        tenants: tuple[Tenant, Tenant]) -> None:
    ranges = []
    for tenant in tenants:
        container = tenant.ok("run", "-d", IMAGE, "sleep", "600").strip()
        try:
            inside = tenant.ok("exec", container, "id", "-u").strip()
            pid = host_pid(tenant, container)
            first_id = tenant.node.engine.id_base
            assert inside == "0"
            assert ps_uid(pid) == first_id == host_ids(pid)[0] == host_ids(pid)[1]
            assert first_id >= rootfs.ID_BASE
            ranges.append(range(first_id, first_id + rootfs.ID_RANGE))
        finally:
            tenant.ok("rm", "-f", container)
    assert not set(ranges[0]) & set(ranges[1])
    allocation = tenants[0].node.net.allocation
    assert tenants[0].node.engine.id_base == rootfs.id_base(allocation.subnet)


def test_a_memory_hog_is_killed_inside_the_node_and_the_engine_stays_up(
        tenants: tuple[Tenant, Tenant]) -> None:
    tenant = tenants[0]
    node = tenant.node.engine
    before = engine.pid_of(node)
    assert before is not None
    assert limits.current(node.cgroup_parent).memory_bytes == 512 * MIB
    hog = tenant.docker("run", "--name", "hog", IMAGE, "sh", "-c",
                        "dd if=/dev/zero of=/dev/null bs=700M count=1")
    try:
        assert hog.returncode == 137, (hog.returncode, hog.stderr)
        state = json.loads(tenant.ok("inspect", "hog"))[0]["State"]
        assert state["OOMKilled"] is True
    finally:
        tenant.docker("rm", "-f", "hog")
    # tmpfs pages cannot be freed by killing their writer: still only the workload goes
    filled = tenant.docker("run", "--rm", "--tmpfs", "/t:size=900m", IMAGE, "sh", "-c",
                           "head -c 800m /dev/zero > /t/fill; echo survived")
    assert "survived" not in filled.stdout
    assert engine.pid_of(node) == before and engine.ping(node)
    with open(os.path.join(node.run_dir, "docker.pid")) as handle:  # the README kills this one
        assert int(handle.read()) == before
    assert tenant.ok("info", "--format", "{{.ContainersRunning}}").strip() == "0"
    workloads = limits.path("memory", f"{node.cgroup_parent}/{limits.WORKLOADS}")
    with open(os.path.join(workloads, "memory.limit_in_bytes")) as handle:
        assert int(handle.read()) == 512 * MIB - 128 * MIB
    with open(os.path.join(workloads, "memory.failcnt")) as handle:
        assert int(handle.read()) > 0


def test_delete_leaves_nothing_behind(tenants: tuple[Tenant, Tenant],
                                      driver: LocalSwarmDriver) -> None:
    """Runs last in this module: the first tenant's cluster goes; the second one stays up."""
    first, second = tenants
    short = network.short_id(first.spec.uuid)
    node = first.node.engine
    first.ok("run", "-d", IMAGE, "sleep", "600")
    pids = limits.pids_in(node.cgroup_parent)
    assert len(pids) >= 4  # unshare, docker-init, dockerd, containerd, the shim, sleep
    assert driver.delete(first.spec)
    assert not [pid for pid in pids if processes.alive(pid)]
    assert_no_cluster_left(driver, first.spec.uuid)
    for hierarchy in limits.hierarchies():
        assert not os.path.exists(limits.path(hierarchy.name, f"/magna/{short}"))
    assert not engine.processes_using(node.root, node.run_dir)
    with open("/proc/self/mountinfo") as handle:
        mounts = handle.read()
    assert node.root not in mounts and f"/run/magna/{short}" not in mounts
    if node.authz_root is not None:
        assert not [entry for entry in os.listdir(node.authz_root)
                    if entry.startswith(f"magna-{short}-")]
    assert engine.ping(second.node.engine)
    assert second.ok("info", "--format", "{{.Swarm.LocalNodeState}}").strip() == "active"
