"""The local Swarm driver builds real clusters on this host: namespaces, engines, a swarm.

These tests drive the driver directly (a hand-made ``ClusterSpec`` and a tiny PKI whose CA comes
from ``magna.crypto.x509.generate_ca``) and once end to end through the API and an in-process
conductor. They check what exists on the host, not what the driver says: ``ip netns``, links,
iptables, processes, and the stock ``docker`` CLI talking TLS to the cluster's manager.

Each test deletes its cluster in ``finally``; when a test failed, a brute-force sweep removes
whatever still carries the cluster's short id. Timings are printed (run with ``-s``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from magna.drivers.base import ClusterSpec
from magna.drivers.local_nodes import engine, host, image, network
from magna.drivers.local_nodes.node import LocalNode
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support import local_swarm
from tests.support.conductor import FAST, conductor_stack
from tests.support.local_swarm import (
    NEEDS_ENGINES,
    TinyPKI,
    UserPKI,
    assert_nothing_left,
    brute_force_cleanup,
    cleaned,
    converge,
    docker_cli,
    engine_pids,
    forward_rules,
    make_spec,
    ping,
    ready_hostnames,
    run,
)

pytestmark = NEEDS_ENGINES
driver = local_swarm.driver  # the fixture: a driver with its own state dir


def test_create_apply_again_and_delete(driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki = make_spec(), TinyPKI()
    with cleaned(driver, spec.uuid):
        started = time.monotonic()
        observed = converge(driver, spec, pki)
        print(f"\nlocal-swarm create 1+2: {time.monotonic() - started:.1f}s")
        assert observed.api_address == f"tcp://{observed.nodes[0].address}:2375"
        assert [n.name for n in observed.nodes] == [
            "default-master-0", "default-worker-0", "default-worker-1"]
        assert all(n.healthy for n in observed.nodes)
        assert observed.coe_version and observed.coe_version == observed.container_version
        assert ready_hostnames(pki, observed.api_address, tmp_path) == [
            "t-default-master-0", "t-default-worker-0", "t-default-worker-1"]
        if not host.has_ipvs():  # no routing mesh: the swarm refuses to publish through one
            refusal = docker_cli(pki, observed.api_address, tmp_path, "service", "create",
                                 "--detach", "--name", "mesh", "--publish", "8080:80",
                                 image.NAME, "httpd", "-f", refused=True)
            assert "no ingress network is present" in refusal

        # A second apply on a converged cluster changes nothing: same engines, no new certs.
        pids, signed = engine_pids(driver, spec), pki.signed
        again = driver.apply(spec, pki)
        assert again.converged and again.nodes == observed.nodes
        assert engine_pids(driver, spec) == pids and pki.signed == signed
        assert not again.notes  # the IPVS note is given once

        started = time.monotonic()
        assert driver.delete(spec)
        print(f"local-swarm delete 1+2: {time.monotonic() - started:.1f}s")
        assert_nothing_left(driver, spec.uuid)
        assert driver.delete(spec)  # deleting what is gone is fine


@pytest.mark.parametrize(("workers", "early"), [(3, True), (2, False)])
def test_many_workers_are_built_while_the_masters_engines_start(
        driver: LocalSwarmDriver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        workers: int, early: bool) -> None:
    """More than two workers per master are built and start beside the masters' engines (they
    are then the longer path of a create); fewer wait for those engines. Either way the swarm
    forms with every node. The masters' engine start is held until a worker's build begins (up
    to 30 s), so the order is observed, not raced."""
    nodes = driver.nodes
    build_nodes, start_engines = nodes.build_nodes, nodes.start_engines
    building = threading.Event()
    beside: list[bool] = []

    def build(spec: ClusterSpec, pki_: Any, group: Sequence[LocalNode]) -> None:
        if any(node.role != "master" for node in group):
            building.set()
        build_nodes(spec, pki_, group)

    def start(group: Sequence[LocalNode]) -> list[tuple[LocalNode, str]]:
        if group and all(node.role == "master" for node in group):
            beside.append(building.wait(30) if early else building.is_set())
        return start_engines(group)

    monkeypatch.setattr(nodes, "build_nodes", build)
    monkeypatch.setattr(nodes, "start_engines", start)
    master, worker = make_spec().nodegroups
    spec, pki = make_spec(nodegroups=(master, replace(worker, node_count=workers))), TinyPKI()
    with cleaned(driver, spec.uuid):
        observed = converge(driver, spec, pki)
        assert beside[0] is early
        assert observed.api_address is not None
        assert ready_hostnames(pki, observed.api_address, tmp_path) == [
            "t-default-master-0", *(f"t-default-worker-{i}" for i in range(workers))]


def test_converges_after_engines_are_killed(driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki = make_spec(), TinyPKI()
    with cleaned(driver, spec.uuid):
        converge(driver, spec, pki)
        pids = engine_pids(driver, spec)
        for name in ("default-worker-1", "default-master-0"):
            pid = pids[name]
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # the pid file stays behind, stale
        started = time.monotonic()
        observed = converge(driver, spec, pki)
        print(f"\nlocal-swarm re-converge after SIGKILL: {time.monotonic() - started:.1f}s")
        assert all(n.healthy for n in observed.nodes)
        after = engine_pids(driver, spec)
        assert after["default-worker-0"] == pids["default-worker-0"]
        assert after["default-worker-1"] not in (None, pids["default-worker-1"])
        assert observed.api_address is not None
        assert len(ready_hostnames(pki, observed.api_address, tmp_path)) == 3


def test_tls_disabled_serves_plain_tcp(driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki = make_spec(tls_disabled=True), TinyPKI()
    with cleaned(driver, spec.uuid):
        observed = converge(driver, spec, pki)
        assert observed.api_address is not None
        done = subprocess.run(["docker", "-H", observed.api_address, "node", "ls", "-q"],
                              capture_output=True, text=True, timeout=60, check=False,
                              env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.split()) == 3


def test_scale_down_with_nodes_to_remove_then_up(driver: LocalSwarmDriver,
                                                 tmp_path: Path) -> None:
    spec, pki = make_spec(), TinyPKI()
    master, workers = spec.nodegroups
    with cleaned(driver, spec.uuid):
        converge(driver, spec, pki)
        smaller = replace(spec, generation=2, nodegroups=(master, replace(
            workers, node_count=1, nodes_to_remove=("default-worker-0",))))
        started = time.monotonic()
        observed = converge(driver, smaller, pki)
        print(f"\nlocal-swarm scale 2 -> 1 worker: {time.monotonic() - started:.1f}s")
        assert [n.name for n in observed.nodes] == ["default-master-0", "default-worker-1"]
        assert observed.api_address is not None
        assert ready_hostnames(pki, observed.api_address, tmp_path) == [
            "t-default-master-0", "t-default-worker-1"]
        out = docker_cli(pki, observed.api_address, tmp_path, "node", "ls", "-q")
        assert len(out.split()) == 2
        assert f"magna-{network.short_id(spec.uuid)}-default-worker-0" not in run(
            "ip", "netns", "list")
        grown = replace(spec, generation=3)
        observed = converge(driver, grown, pki)
        assert [n.name for n in observed.nodes] == [
            "default-master-0", "default-worker-0", "default-worker-1"]
        assert len(ready_hostnames(pki, observed.api_address, tmp_path)) == 3


def test_orphans_of_a_vanished_state_dir_are_collected(tmp_path: Path) -> None:
    """A cluster whose state dir disappeared (a test's temporary directory, a wiped host
    directory) is found and removed by any local-swarm conductor on the host."""
    first = LocalSwarmDriver(make_conf(tmp_path / "first"))
    other = LocalSwarmDriver(make_conf(tmp_path / "other"))
    spec, pki = make_spec(), TinyPKI()
    moved = tmp_path / "first-moved"
    try:
        converge(first, spec, pki)
        assert other.leftovers(set()) == [] or spec.uuid not in other.leftovers(set())
        os.rename(tmp_path / "first", moved)
        assert spec.uuid in other.leftovers(set())
        assert spec.uuid not in other.leftovers({spec.uuid})
        other.collect(spec.uuid)
        assert spec.uuid not in other.leftovers(set())
        engine.unmount_under(str(moved))
        shutil.rmtree(moved)
        assert_nothing_left(first, spec.uuid)
    finally:
        brute_force_cleanup(network.short_id(spec.uuid))
        engine.unmount_under(str(moved))


def test_a_node_that_lost_its_data_rejoins(driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki = make_spec(), TinyPKI()
    with cleaned(driver, spec.uuid):
        converge(driver, spec, pki)
        allocation = network.read_allocation(os.path.join(driver.root, spec.uuid))
        assert allocation is not None
        lost = driver.nodes.planned(spec, allocation)[2].engine
        engine.stop(lost, 10)
        engine.unmount_under(lost.node_dir)
        shutil.rmtree(lost.data_root)
        observed = converge(driver, spec, pki)
        assert observed.api_address is not None
        out = docker_cli(pki, observed.api_address, tmp_path, "node", "ls", "--format",
                         "{{.Hostname}} {{.Status}}")
        assert sorted(out.splitlines()) == [
            "t-default-master-0 Ready", "t-default-worker-0 Ready", "t-default-worker-1 Ready"]


def test_clusters_cannot_reach_each_other(driver: LocalSwarmDriver) -> None:
    """The host reaches every node; a node reaches its own cluster but not another one."""
    pki = TinyPKI()
    specs = [make_spec(nodegroups=(make_spec().nodegroups[0],)) for _ in range(2)]
    with cleaned(driver, specs[0].uuid), cleaned(driver, specs[1].uuid):
        a, b = (converge(driver, spec, pki).nodes[0] for spec in specs)
        assert a.address and b.address and a.address != b.address
        netns_a = network.netns_name(specs[0].uuid, a.name)
        gateway_a = a.address.rsplit(".", 1)[0] + ".1"
        assert ping(None, a.address) and ping(None, b.address)
        assert ping(netns_a, gateway_a)
        assert not ping(netns_a, b.address)
        for spec in specs:
            assert len(forward_rules(network.bridge_name(spec.uuid))) == 3


def test_subnets_are_distinct_and_the_pool_runs_out(driver: LocalSwarmDriver,
                                                    tmp_path: Path) -> None:
    root, run = str(tmp_path / "alloc"), str(tmp_path / "run")
    pool = network.SubnetPool("10.239.0.0/23", 24, kind="local Swarm", group="local_swarm")
    first = network.allocate(root, str(uuid.uuid4()), pool, run_root=run)
    # another state dir on the same host sees the first allocation through the run dir
    second = network.allocate(str(tmp_path / "elsewhere"), str(uuid.uuid4()), pool,
                              run_root=run)
    assert {str(first.subnet), str(second.subnet)} == {"10.239.0.0/24", "10.239.1.0/24"}
    from magna.common.exceptions import PermanentError

    with pytest.raises(PermanentError, match="exhausted"):
        network.allocate(root, str(uuid.uuid4()), pool, run_root=run)


def test_end_to_end_through_the_api(tmp_path: Path, db_url: str) -> None:
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["local-swarm"]},
                     conductor=FAST)
    driver = LocalSwarmDriver(conf)
    cluster_uuid = ""
    try:
        with conductor_stack(conf, tmp_path) as stack:
            template = stack.api.post("/v1/clustertemplates", json={
                "name": "swarm", "coe": "swarm-mode", "image_id": "debian-12-docker",
                "external_network_id": "public", "flavor_id": "m1.small",
                "master_flavor_id": "m1.small"})
            assert template.status_code == 201, template.text
            started = time.monotonic()
            created = stack.api.post("/v1/clusters", json={
                "name": "e2e", "cluster_template_id": template.json()["uuid"],
                "master_count": 1, "node_count": 2})
            assert created.status_code == 202, created.text
            cluster_uuid = created.json()["uuid"]
            body = stack.wait_status(cluster_uuid, "CREATE_COMPLETE", timeout=180)
            print(f"\nlocal-swarm create 1+2 through the API: {time.monotonic() - started:.1f}s")
            assert body["api_address"].startswith("tcp://10.")
            assert len(body["master_addresses"]) == 1 and len(body["node_addresses"]) == 2
            events = stack.api.get(f"/v1/clusters/{cluster_uuid}/events").json()["events"]
            assert any("IPVS" in e["message"] for e in events) == (
                not os.path.exists("/proc/net/ip_vs"))
            ca = stack.api.get(f"/v1/certificates/{cluster_uuid}").json()["pem"]
            pki = UserPKI(stack, cluster_uuid, ca)
            assert len(ready_hostnames(pki, body["api_address"], tmp_path)) == 3  # type: ignore
            started = time.monotonic()
            assert stack.api.delete(f"/v1/clusters/{cluster_uuid}").status_code == 204
            stack.wait_gone(cluster_uuid, timeout=120)
            print(f"local-swarm delete through the API: {time.monotonic() - started:.1f}s")
            assert_nothing_left(driver, cluster_uuid)
    finally:
        if cluster_uuid:
            with cleaned(driver, cluster_uuid):
                pass


def test_spec_changes_are_what_apply_sees() -> None:
    spec = make_spec()
    grown = replace(spec, nodegroups=(spec.nodegroups[0],
                                      replace(spec.nodegroups[1], node_count=3)))
    from magna.drivers.local_nodes.planning import assign_slots, planned_names

    names = [name for name, _, _ in planned_names(grown, ["default-master-0"])]
    assert names == ["default-master-0", "default-worker-0", "default-worker-1",
                     "default-worker-2"]
    assert assign_slots({"default-master-0": 1, "default-worker-1": 3}, names) == {
        "default-master-0": 1, "default-worker-1": 3, "default-worker-0": 2,
        "default-worker-2": 4}
