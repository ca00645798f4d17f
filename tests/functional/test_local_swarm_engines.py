"""What the local Swarm driver makes of templates and nodegroups, seen on real engines: flavors
as cgroup limits, the template's DNS server and proxies in the engines, swarm labels and taints,
and rolling engine restarts for an upgrade and a CA rotation.

Helpers (the tiny PKI, specs, cleanup, the docker CLI) come from ``tests/support/local_swarm.py``.
Each test deletes its cluster; a failed one is swept by its short id.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.local_nodes import engine, limits, network, pki
from magna.drivers.local_nodes.node import LocalNode as Node
from magna.drivers.local_swarm import rollout, swarm
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support import local_swarm
from tests.support.conductor import FAST, conductor_stack
from tests.support.databases import SQLITE_ONLY
from tests.support.local_swarm import (
    NEEDS_ENGINES,
    TinyPKI,
    UserPKI,
    cleaned,
    converge,
    docker_cli,
    make_spec,
)

pytestmark = NEEDS_ENGINES
MIB = 1024 * 1024
driver = local_swarm.driver  # the fixture: a driver with its own state dir


def _group(name: str, role: str, count: int, flavor: str, **extra: object) -> NodeGroupSpec:
    return NodeGroupSpec(uuid=name, name=name, role=role, node_count=count, flavor_id=flavor,
                         image_id=None, **extra)  # type: ignore[arg-type]


def nodes_of(driver: LocalSwarmDriver, spec: ClusterSpec) -> dict[str, Node]:
    allocation = network.read_allocation(os.path.join(driver.root, spec.uuid))
    assert allocation is not None
    return {node.name: node for node in driver.nodes.planned(spec, allocation)}


def node_docker(node: Node, *args: str, timeout: float = 60) -> str:
    """The docker CLI on a node's own unix socket (as root on the host)."""
    done = subprocess.run(["docker", "-H", f"unix://{node.engine.socket}", *args],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          env={"PATH": os.environ["PATH"], "HOME": "/nonexistent"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def swarm_nodes(pki_: TinyPKI, api_address: str, tmp_path: Path) -> dict[str, dict[str, object]]:
    """``docker node inspect`` of every node, by hostname, through the cluster's API."""
    ids = docker_cli(pki_, api_address, tmp_path, "node", "ls", "-q").split()
    found = json.loads(docker_cli(pki_, api_address, tmp_path, "node", "inspect", *ids))
    return {n["Description"]["Hostname"]: n for n in found}


def cgroup_of(pid: int, controller: str) -> str:
    with open(f"/proc/{pid}/cgroup") as handle:
        for line in handle:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return path
    raise AssertionError(f"{pid} has no {controller} cgroup")


def busybox_image(node: Node, tmp_path: Path) -> str:
    """A one-binary image made from the host's static busybox: nothing is pulled."""
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
    node_docker(node, "import", str(rootfs), "magna-test/busybox:1")
    return "magna-test/busybox:1"


def test_flavors_are_cgroup_limits_of_the_engine_and_its_containers(
        driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki_ = make_spec(nodegroups=(_group("default-master", "master", 1, "m1.tiny"),
                                       _group("default-worker", "worker", 1, "m1.medium"))), \
        TinyPKI()
    with cleaned(driver, spec.uuid):
        observed = converge(driver, spec, pki_)
        assert observed.api_address is not None
        nodes = nodes_of(driver, spec)
        master, worker = nodes["default-master-0"], nodes["default-worker-0"]
        short = network.short_id(spec.uuid)
        assert limits.current(master.engine.cgroup_parent) == limits.Limits(100000, 512 * MIB)
        assert limits.current(worker.engine.cgroup_parent) == limits.Limits(200000, 4096 * MIB)
        for node in (master, worker):
            pid = engine.pid_of(node.engine)
            assert pid is not None
            for controller in limits.CONTROLLERS:
                assert cgroup_of(pid, controller) == f"/magna/{short}/{node.name}"

        image = busybox_image(worker, tmp_path)
        container = node_docker(worker, "run", "-d", "--network", "none", image,
                                "/bin/busybox", "sleep", "600").strip()
        # NOTE: inspect's State.Pid is a pid of the sealed node's own namespace: the host pid
        # comes from the container's cgroup, below the node's workloads cgroup.
        workloads = f"/magna/{short}/default-worker-0/{limits.WORKLOADS}/{container}"
        with open(f"/sys/fs/cgroup/memory{workloads}/cgroup.procs") as handle:
            pid = min(int(found) for found in handle.read().split())
        for controller in limits.CONTROLLERS:
            assert cgroup_of(pid, controller) == workloads
        # the node's limits are the container's ceiling (cgroup v1 limits are hierarchical)
        with open(f"/sys/fs/cgroup/memory{workloads}/memory.use_hierarchy") as handle:
            assert handle.read().strip() == "1"

        # A flavor change is applied live: same engine, new limits, new label.
        before = engine.pid_of(worker.engine)
        smaller = replace(spec, generation=2, nodegroups=(
            spec.nodegroups[0], replace(spec.nodegroups[1], flavor_id="m1.small")))
        observed = converge(driver, smaller, pki_)
        assert observed.api_address is not None
        assert limits.current(worker.engine.cgroup_parent) == limits.Limits(100000, 2048 * MIB)
        assert engine.pid_of(worker.engine) == before
        labels = swarm_nodes(pki_, observed.api_address, tmp_path)["t-default-worker-0"]
        assert labels["Spec"]["Labels"]["magna.flavor"] == "m1.small"  # type: ignore[index]
        node_docker(worker, "rm", "-f", container)

        assert driver.delete(spec)
        assert not os.path.exists(f"/sys/fs/cgroup/memory/magna/{short}")
        assert not os.path.exists(f"/sys/fs/cgroup/cpu/magna/{short}")


def test_template_dns_and_proxies_reach_the_engines_and_labels_and_taints_the_swarm(
        driver: LocalSwarmDriver, tmp_path: Path) -> None:
    taints = ({"key": "dedicated", "value": "db", "effect": "NoSchedule"},)
    spec = make_spec(
        dns_nameserver="10.9.8.7", http_proxy="http://proxy.example:3128",
        https_proxy="http://proxy.example:3129", no_proxy="10.0.0.0/8,.local",
        nodegroups=(_group("default-master", "master", 1, "m1.small"),
                    _group("default-worker", "worker", 1, "m1.small",
                           node_labels={"zone": "a"}),
                    _group("db", "worker", 1, "m1.large", node_taints=taints)))
    pki_ = TinyPKI()
    with cleaned(driver, spec.uuid):
        observed = converge(driver, spec, pki_)
        assert observed.api_address is not None
        info = docker_cli(pki_, observed.api_address, tmp_path, "info", "--format",
                          "{{.HTTPProxy}} {{.HTTPSProxy}} {{.NoProxy}} {{json .Labels}}").split()
        subnet = str(driver.nodes.allocation(spec.uuid).subnet)  # type: ignore[union-attr]
        # NOTE: the user's exemptions, then the cluster's own (its registry, its load balancer)
        assert info[:3] == ["http://proxy.example:3128", "http://proxy.example:3129",
                            f"10.0.0.0/8,.local,localhost,127.0.0.1,{subnet}"]
        assert "magna.image=debian-12-docker" in json.loads(info[3])
        for node in nodes_of(driver, spec).values():
            pid = engine.pid_of(node.engine)
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
            assert b"HTTP_PROXY=http://proxy.example:3128" in environ
            with open(node.engine.config_path) as handle:
                assert json.load(handle)["dns"] == ["10.9.8.7"]

        seen = swarm_nodes(pki_, observed.api_address, tmp_path)
        labels = {host: n["Spec"]["Labels"] for host, n in seen.items()}  # type: ignore[index]
        assert labels["t-default-master-0"] == {
            "magna.nodegroup": "default-master", "magna.role": "master",
            "magna.image": "debian-12-docker", "magna.flavor": "m1.small"}
        assert labels["t-default-worker-0"] == {
            "magna.nodegroup": "default-worker", "magna.role": "worker",
            "magna.image": "debian-12-docker", "magna.flavor": "m1.small", "zone": "a",
            "magna.node-labels": "zone"}
        assert labels["t-db-0"]["taint.dedicated"] == "db:NoSchedule"
        availability = {host: n["Spec"]["Availability"]  # type: ignore[index]
                        for host, n in seen.items()}
        assert availability == {"t-default-master-0": "active", "t-default-worker-0": "active",
                                "t-db-0": "pause"}
        assert all(n.healthy for n in observed.nodes), "a tainted node is healthy when paused"

        # Idempotent: nothing changes on another pass; a label set by hand survives it.
        docker_cli(pki_, observed.api_address, tmp_path, "node", "update", "--label-add",
                   "mine=1", "t-default-worker-0")
        versions = {host: n["Version"]["Index"] for host, n in  # type: ignore[index]
                    swarm_nodes(pki_, observed.api_address, tmp_path).items()}
        assert driver.apply(spec, pki_).converged
        again = swarm_nodes(pki_, observed.api_address, tmp_path)
        assert {host: n["Version"]["Index"] for host, n in again.items()} == versions  # type: ignore[index]
        assert again["t-default-worker-0"]["Spec"]["Labels"]["mine"] == "1"  # type: ignore[index]


@dataclass
class Watcher:
    """Polls the manager's node list from a thread: (time, {hostname: (state, availability)})."""

    driver: LocalSwarmDriver
    spec: ClusterSpec
    addresses: list[str]
    seen: list[tuple[float, dict[str, tuple[object, ...]]]]
    stop: threading.Event
    managers: bool = False  # record raft reachability of managers instead

    def run(self) -> None:
        files = pki.client_files(os.path.join(self.driver.root, self.spec.uuid))
        while not self.stop.is_set():
            for address in self.addresses:  # the first manager that answers
                with contextlib.suppress(Exception), \
                        contextlib.closing(swarm.connect(address, files, 3)) as client:
                    if self.managers:
                        got: dict[str, tuple[object, ...]] = {
                            i: (r,) for i, r in rollout.reachability(client).items()}
                    else:
                        got = {n.hostname: (n.state, n.availability)
                               for n in swarm.nodes(client).values()}
                    self.seen.append((time.time(), got))
                    break
            time.sleep(0.1)


@contextlib.contextmanager
def watching(driver: LocalSwarmDriver, spec: ClusterSpec, *addresses: str, managers: bool = False
             ) -> Iterator[list[tuple[float, dict[str, tuple[object, ...]]]]]:
    watcher = Watcher(driver, spec, list(addresses), [], threading.Event(), managers)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        yield watcher.seen
    finally:
        watcher.stop.set()
        thread.join(timeout=30)


def restart_times(driver: LocalSwarmDriver, spec: ClusterSpec) -> dict[str, float]:
    return {name: os.stat(os.path.join(node.engine.node_dir, engine.STARTED)).st_mtime
            for name, node in nodes_of(driver, spec).items()}


def test_an_upgrade_restarts_one_worker_at_a_time(driver: LocalSwarmDriver,
                                                  tmp_path: Path) -> None:
    spec = make_spec(max_batch_size=1, nodegroups=(
        _group("default-master", "master", 1, "m1.small"),
        _group("default-worker", "worker", 3, "m1.small")))
    pki_ = TinyPKI()
    with cleaned(driver, spec.uuid):
        observed = converge(driver, spec, pki_)
        assert observed.api_address is not None
        master_ip = observed.api_address.split("//")[1].split(":")[0]
        before = restart_times(driver, spec)
        upgraded = replace(spec, generation=2, image_id="fedora-atomic-latest",
                           dns_nameserver="10.9.8.7", nodegroups=tuple(
                               replace(ng, flavor_id="m1.medium") for ng in spec.nodegroups))
        started = time.time()
        with watching(driver, spec, master_ip) as seen:
            converge(driver, upgraded, pki_, timeout=400)
        print(f"\nlocal-swarm rolling upgrade 1+3: {time.time() - started:.1f}s, "
              f"{len(seen)} observations")
        after = restart_times(driver, spec)
        assert all(after[name] > before[name] for name in before), "every engine restarted"
        order = sorted(after, key=after.__getitem__)
        assert order == ["default-master-0", "default-worker-0", "default-worker-1",
                         "default-worker-2"]
        workers = [f"t-default-worker-{i}" for i in range(3)]
        workers = [f"t-default-worker-{i}" for i in range(3)]

        def out(nodes: dict[str, tuple[str, str]]) -> list[str]:
            return [w for w in workers if nodes.get(w) != ("ready", "active")]

        # One node at a time is drained, the master first (it goes alone).
        assert max(sum(1 for state in n.values() if state[1] == "drain") for _, n in seen) == 1
        first_drained = next(n for _, n in seen if any(st[1] == "drain" for st in n.values()))
        assert [h for h, st in first_drained.items() if st[1] == "drain"] == ["t-default-master-0"]
        # Then one worker at a time: drained, restarted, Ready, active again.
        worker_phase = [n for t, n in seen if t >= after["default-worker-0"] and len(n) == 4]
        assert max(len(out(nodes)) for nodes in worker_phase) == 1, \
            "never more than one worker out at a time"
        for host in workers:
            assert any(out(nodes) == [host] for nodes in worker_phase), host

        final = swarm_nodes(pki_, observed.api_address, tmp_path)
        for host, node in final.items():
            assert node["Spec"]["Labels"]["magna.image"] == "fedora-atomic-latest", host  # type: ignore[index]
            assert node["Spec"]["Labels"]["magna.flavor"] == "m1.medium", host  # type: ignore[index]
            assert node["Spec"]["Availability"] == "active", host  # type: ignore[index]
            assert node["Status"]["State"] == "ready", host  # type: ignore[index]
        again = driver.apply(upgraded, pki_)
        assert again.converged and restart_times(driver, spec) == after


def test_a_ca_rotation_restarts_engines_with_the_new_certificates(
        driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, old = make_spec(), TinyPKI()
    with cleaned(driver, spec.uuid):
        observed = converge(driver, spec, old)
        assert observed.api_address is not None
        pids = {name: engine.pid_of(node.engine) for name, node in nodes_of(driver, spec).items()}
        new = TinyPKI()
        started = time.time()
        observed = converge(driver, spec, new, timeout=300)
        print(f"\nlocal-swarm CA rotation 1+2: {time.time() - started:.1f}s")
        assert observed.api_address is not None
        after = {name: engine.pid_of(node.engine) for name, node in nodes_of(driver, spec).items()}
        assert all(after[name] not in (None, pids[name]) for name in pids)
        assert len(docker_cli(new, observed.api_address, tmp_path, "node", "ls", "-q").split()) == 3
        (tmp_path / "old").mkdir()
        with pytest.raises(AssertionError, match=r"certificate|tls|bad"):
            docker_cli(old, observed.api_address, tmp_path / "old", "node", "ls", "-q")


def test_a_rollout_killed_midway_converges_on_the_next_pass(driver: LocalSwarmDriver,
                                                            tmp_path: Path) -> None:
    """A conductor killed (SIGKILL) while a worker is drained and restarting: the next pass
    restarts only what still runs with the old configuration and gives the drained worker its
    availability back."""
    spec, pki_ = make_spec(max_batch_size=1), TinyPKI()
    with cleaned(driver, spec.uuid):
        observed = converge(driver, spec, pki_)
        assert observed.api_address is not None
        before = restart_times(driver, spec)
        upgraded = replace(spec, generation=2, dns_nameserver="10.9.8.7")
        (tmp_path / "job.pickle").write_bytes(pickle.dumps(
            (str(tmp_path / "state"), upgraded, pki_)))
        conductor = subprocess.Popen([sys.executable, "-c", CONDUCTOR_PASS,
                                      str(tmp_path / "job.pickle")])
        try:
            deadline = time.monotonic() + 180
            while restart_times(driver, spec)["default-worker-0"] == before["default-worker-0"]:
                assert conductor.poll() is None, "the pass ended before worker-0 restarted"
                assert time.monotonic() < deadline
                time.sleep(0.05)
            conductor.kill()
        finally:
            conductor.kill()
            conductor.wait()
        killed = restart_times(driver, spec)
        assert killed["default-worker-1"] == before["default-worker-1"]
        seen = swarm_nodes(pki_, observed.api_address, tmp_path)
        assert seen["t-default-worker-0"]["Spec"]["Availability"] == "drain"  # type: ignore[index]

        converge(driver, upgraded, pki_, timeout=300)
        after = restart_times(driver, spec)
        assert after["default-master-0"] == killed["default-master-0"]
        assert after["default-worker-0"] == killed["default-worker-0"]
        assert after["default-worker-1"] > killed["default-worker-1"]
        seen = swarm_nodes(pki_, observed.api_address, tmp_path)
        assert {(n["Status"]["State"], n["Spec"]["Availability"])  # type: ignore[index]
                for n in seen.values()} == {("ready", "active")}
        for node in nodes_of(driver, upgraded).values():
            with open(node.engine.config_path) as handle:
                assert json.load(handle)["dns"] == ["10.9.8.7"]


CONDUCTOR_PASS = """
import pickle, sys
from pathlib import Path
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
state, spec, pki = pickle.loads(Path(sys.argv[1]).read_bytes())
LocalSwarmDriver(make_conf(Path(state))).apply(spec, pki)
"""


def test_managers_restart_one_at_a_time(driver: LocalSwarmDriver, tmp_path: Path) -> None:
    """Three managers: each restarts alone while the other two keep the quorum."""
    spec, old = make_spec(max_batch_size=2, nodegroups=(
        _group("default-master", "master", 3, "m1.small"),
        _group("default-worker", "worker", 1, "m1.small"))), TinyPKI()
    with cleaned(driver, spec.uuid):
        observed = converge(driver, spec, old, timeout=240)
        masters = [n.address for n in observed.nodes if n.role == "master" and n.address]
        before = restart_times(driver, spec)
        upgraded = replace(spec, generation=2, no_proxy="10.0.0.0/8")
        with watching(driver, spec, *masters) as seen, \
                watching(driver, spec, *masters, managers=True) as reach:
            converge(driver, upgraded, old, timeout=400)
        after = restart_times(driver, spec)
        assert all(after[name] > before[name] for name in before)
        assert sorted(after, key=after.__getitem__) == [
            "default-master-0", "default-master-1", "default-master-2", "default-worker-0"]
        assert max(sum(1 for st in n.values() if st[1] == "drain") for _, n in seen) == 1
        # never two managers out of raft at once: the other two keep the quorum (that each one
        # restarted is proven by the start times above; a sampler may miss a short absence)
        assert max(sum(1 for m in n.values() if m == (False,)) for _, n in reach) <= 1
        assert observed.api_address is not None
        out = docker_cli(old, observed.api_address, tmp_path, "node", "ls", "--format",
                         "{{.ManagerStatus}}")
        assert sorted(out.split()) == ["Leader", "Reachable", "Reachable"]


@SQLITE_ONLY
def test_an_upgrade_through_the_api(tmp_path: Path, db_url: str) -> None:
    """Template settings travel from the API through the conductor to the engines: an upgrade
    to a template with another image, DNS server and worker flavor ends UPDATE_COMPLETE with
    the new labels, limits and engine configuration."""
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["local-swarm"]},
                     conductor=FAST)
    local = LocalSwarmDriver(conf)
    cluster_uuid = ""
    try:
        with conductor_stack(conf, tmp_path) as stack:
            for name, extra in (("old", {}), ("new", {
                    "image_id": "fedora-atomic-latest", "dns_nameserver": "10.9.8.7",
                    "flavor_id": "m1.medium", "http_proxy": "http://proxy.example:3128"})):
                made = stack.api.post("/v1/clustertemplates", json={
                    "name": name, "coe": "swarm-mode", "image_id": "debian-12-docker",
                    "external_network_id": "public", "flavor_id": "m1.small",
                    "master_flavor_id": "m1.small", **extra})
                assert made.status_code == 201, made.text
            created = stack.api.post("/v1/clusters", json={
                "name": "up", "cluster_template_id": "old", "master_count": 1, "node_count": 1})
            assert created.status_code == 202, created.text
            cluster_uuid = created.json()["uuid"]
            stack.wait_status(cluster_uuid, "CREATE_COMPLETE", timeout=180)
            upgraded = stack.api.post(f"/v1/clusters/{cluster_uuid}/actions/upgrade",
                                      json={"cluster_template": "new", "max_batch_size": 1})
            assert upgraded.status_code == 202, upgraded.text
            body = stack.wait_status(cluster_uuid, "UPDATE_COMPLETE", timeout=300)
            short = network.short_id(cluster_uuid)
            worker = f"/magna/{short}/default-worker-0"
            assert limits.current(worker) == limits.Limits(200000, 4096 * MIB)
            ca = stack.api.get(f"/v1/certificates/{cluster_uuid}").json()["pem"]
            user = UserPKI(stack, cluster_uuid, ca)
            seen = swarm_nodes(user, body["api_address"], tmp_path)  # type: ignore[arg-type]
            assert {n["Spec"]["Labels"]["magna.image"]  # type: ignore[index]
                    for n in seen.values()} == {"fedora-atomic-latest"}
            assert seen["up-default-worker-0"]["Spec"]["Labels"][  # type: ignore[index]
                "magna.flavor"] == "m1.medium"
            info = docker_cli(user, body["api_address"], tmp_path,  # type: ignore[arg-type]
                              "info", "--format", "{{.HTTPProxy}}")
            assert info.strip() == "http://proxy.example:3128"
            assert stack.api.delete(f"/v1/clusters/{cluster_uuid}").status_code == 204
            stack.wait_gone(cluster_uuid, timeout=120)
    finally:
        if cluster_uuid:
            with cleaned(local, cluster_uuid):
                pass
