"""Highly available managers of the local Swarm driver, on real engines: a raft quorum of three
managers behind the cluster's HAProxy, managers whose engines are killed, repair and auto-healing,
safe demotion when masters are scaled down, and health through the API and a conductor.

Like ``test_local_swarm.py`` (with the helpers of ``tests/support/local_swarm.py``), they check
the host and the stock ``docker`` CLI rather than what the driver says. Timings are printed (run
with ``-s``).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest

from magna.common import processes
from magna.drivers.base import ClusterSpec, NodeGroupSpec, Observed
from magna.drivers.local_nodes import balancer, engine, network
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.conductor import FAST, conductor_stack, fake_template_body, wait_for
from tests.support.databases import SQLITE_ONLY
from tests.support.local_swarm import (
    TinyPKI,
    UserPKI,
    assert_nothing_left,
    cleaned,
    converge,
    docker_cli,
    engine_pids,
    make_spec,
    ready_hostnames,
    run,
)

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/sbin/haproxy"),
                       reason="needs root, docker.io, the docker CLI and haproxy"),
]


def ha_spec(masters: int = 3, workers: int = 1, **overrides: object) -> ClusterSpec:
    return make_spec(master_lb_enabled=True, nodegroups=(
        NodeGroupSpec(uuid="m", name="default-master", role="master", node_count=masters,
                      flavor_id="m1.small", image_id=None),
        NodeGroupSpec(uuid="w", name="default-worker", role="worker", node_count=workers,
                      flavor_id="m1.small", image_id=None)), **overrides)


def managers(pki: TinyPKI, api_address: str, tmp_path: Path) -> list[str]:
    """`docker node ls` through ``api_address``: "<hostname> <manager status>" of managers."""
    out = docker_cli(pki, api_address, tmp_path, "node", "ls", "--format",
                     "{{.Hostname}} {{.ManagerStatus}}")
    return sorted(line for line in out.splitlines() if len(line.split()) == 2)


def _listing(pki: TinyPKI, api_address: str, tmp_path: Path) -> int | None:
    """How many nodes `docker node ls` lists through ``api_address``; None if it failed."""
    try:
        return len(docker_cli(pki, api_address, tmp_path, "node", "ls", "-q").split())
    except AssertionError:
        return None


def kill_engine(driver: LocalSwarmDriver, spec: ClusterSpec, name: str) -> None:
    pid = engine_pids(driver, spec)[name]
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


def unhealthy(observed: Observed) -> dict[str, str]:
    return {node.name: node.reason for node in observed.nodes if not node.healthy}


def haproxy_pids(driver: LocalSwarmDriver, spec: ClusterSpec) -> list[int]:
    config = os.path.join(driver.root, spec.uuid, "balancer", "haproxy.cfg")
    return [pid for pid in engine.processes_using(config)
            if b"haproxy" in Path(f"/proc/{pid}/cmdline").read_bytes()]


@pytest.fixture
def driver(tmp_path: Path) -> LocalSwarmDriver:
    return LocalSwarmDriver(make_conf(tmp_path / "state"))


def test_three_managers_survive_dead_engines_heal_and_scale_down(
        driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki = ha_spec(), TinyPKI()
    with cleaned(driver, spec.uuid):
        started = time.monotonic()
        observed = converge(driver, spec, pki, timeout=240)
        print(f"\nlocal-swarm create 3+1 with LB: {time.monotonic() - started:.1f}s")
        allocation = network.read_allocation(os.path.join(driver.root, spec.uuid))
        assert allocation is not None
        api = f"tcp://{allocation.gateway}:2375"
        assert observed.api_address == api
        assert len(haproxy_pids(driver, spec)) == 1
        listed = managers(pki, api, tmp_path)
        assert [line.split()[0] for line in listed] == [
            "t-default-master-0", "t-default-master-1", "t-default-master-2"]
        assert sorted(line.split()[1] for line in listed) == ["Leader", "Reachable",
                                                               "Reachable"]

        for victim in ("default-master-1", "default-master-0"):
            kill_engine(driver, spec, victim)
            # The balancer takes the dead manager out; the others keep (or, when the leader
            # died, elect) a leader and answer, on every connection.
            started = time.monotonic()
            wait_for(lambda: _listing(pki, api, tmp_path) == 4, 60, "the LB to answer")
            print(f"\nLB answers {time.monotonic() - started:.1f}s after {victim} died")
            assert all(_listing(pki, api, tmp_path) == 4 for _ in range(4))
            seen = driver.observe(spec, pki)
            assert not seen.converged
            # NOTE: right after a leader dies, the new one lists the others "unknown" until
            # they report in; only the victim's engine is down.
            assert "engine not answering" in unhealthy(seen)[victim], unhealthy(seen)
            assert [name for name, reason in unhealthy(seen).items()
                    if "engine not answering" in reason] == [victim]
            started = time.monotonic()
            healed = driver.heal(spec, pki)
            print(f"heal {victim}: {time.monotonic() - started:.1f}s")
            assert healed.converged and not unhealthy(healed), healed
            assert any(victim in note for note in healed.notes)
            assert not unhealthy(driver.observe(spec, pki))
            assert len(managers(pki, api, tmp_path)) == 3

        # A dead load balancer leaves the cluster without an API address until healed.
        os.kill(haproxy_pids(driver, spec)[0], signal.SIGKILL)
        wait_for(lambda: not haproxy_pids(driver, spec), 10, "HAProxy to die")
        assert driver.observe(spec, pki).api_address is None
        healed = driver.heal(spec, pki)
        assert healed.api_address == api and "load balancer" in " ".join(healed.notes)
        assert len(haproxy_pids(driver, spec)) == 1
        assert len(managers(pki, api, tmp_path)) == 3

        smaller = replace(spec, generation=2, nodegroups=(
            replace(spec.nodegroups[0], node_count=1), spec.nodegroups[1]))
        started = time.monotonic()
        observed = converge(driver, smaller, pki, timeout=240)
        print(f"local-swarm scale masters 3 -> 1: {time.monotonic() - started:.1f}s")
        assert [n.name for n in observed.nodes] == ["default-master-0", "default-worker-0"]
        assert observed.api_address == api
        assert managers(pki, api, tmp_path) == ["t-default-master-0 Leader"]
        assert ready_hostnames(pki, api, tmp_path) == ["t-default-master-0",
                                                       "t-default-worker-0"]
        config = Path(driver.root, spec.uuid, "balancer", "haproxy.cfg").read_text()
        assert config.count(" check ") == 1

        assert driver.delete(smaller)
        assert_nothing_left(driver, spec.uuid)
        assert not haproxy_pids(driver, spec)
        assert str(allocation.gateway) not in run("ss", "-ltn")


def test_auto_healing_replaces_a_worker_that_cannot_be_repaired(
        driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki = make_spec(), TinyPKI()
    with cleaned(driver, spec.uuid):
        converge(driver, spec, pki)
        allocation = network.read_allocation(os.path.join(driver.root, spec.uuid))
        assert allocation is not None
        broken = driver.nodes.planned(spec, allocation)[2]
        assert broken.name == "default-worker-1"
        engine.stop(broken.engine, 10)
        engine.unmount_under(broken.engine.node_dir)
        data = Path(broken.engine.data_root)
        run("rm", "-rf", str(data))
        data.write_text("not a directory: dockerd cannot start\n")

        # Without the label, healing only restarts engines: this one does not stay up.
        healed = driver.heal(spec, pki)
        assert list(unhealthy(healed)) == ["default-worker-1"]
        assert any("does not stay up" in note for note in healed.notes)

        labelled = replace(spec, labels={"auto_healing_enabled": "true"})
        started = time.monotonic()
        healed = driver.heal(labelled, pki)
        print(f"\nauto-healing replaced a worker: {time.monotonic() - started:.1f}s")
        assert healed.converged and not unhealthy(healed), healed
        assert [n.name for n in healed.nodes] == [
            "default-master-0", "default-worker-0", "default-worker-2"]
        assert any("replacing worker default-worker-1" in note for note in healed.notes)
        replacement = healed.nodes[2]
        assert replacement.address not in (str(allocation.address(slot)) for slot in (1, 2, 3))
        assert f"magna-{network.short_id(spec.uuid)}-default-worker-1" not in run(
            "ip", "netns", "list")
        assert healed.api_address is not None
        assert ready_hostnames(pki, healed.api_address, tmp_path) == [
            "t-default-master-0", "t-default-worker-0", "t-default-worker-2"]
        # The replacement is what apply now converges to; nothing is replaced twice.
        again = driver.apply(labelled, pki)
        assert again.converged and [n.name for n in again.nodes] == [
            n.name for n in healed.nodes]


@SQLITE_ONLY
def test_health_through_the_api_goes_unhealthy_and_heals(tmp_path: Path, db_url: str) -> None:
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["local-swarm"]},
                     conductor=FAST)
    driver = LocalSwarmDriver(conf)
    cluster_uuid = ""
    try:
        with conductor_stack(conf, tmp_path) as stack:
            template = stack.api.post("/v1/clustertemplates", json=fake_template_body(
                name="swarm-ha", image_id="debian-12-docker", master_lb_enabled=True))
            assert template.status_code == 201, template.text
            created = stack.api.post("/v1/clusters", json={
                "name": "ha", "cluster_template_id": template.json()["uuid"],
                "master_count": 3, "node_count": 1})
            assert created.status_code == 202, created.text
            cluster_uuid = created.json()["uuid"]
            body = stack.wait_status(cluster_uuid, "CREATE_COMPLETE", timeout=300)
            assert len(body["master_addresses"]) == 3
            assert body["api_address"].endswith(".1:2375")
            wait_for(lambda: _health(stack, cluster_uuid)[0] == "HEALTHY", 60, "HEALTHY")

            spec = _spec_of(driver, cluster_uuid)
            kill_engine(driver, spec, "default-master-2")
            started = time.monotonic()
            _, reason = wait_for(lambda: _unhealthy(stack, cluster_uuid), 60, "UNHEALTHY")
            assert "engine not answering" in reason["default-master-2.Ready"], reason
            assert [key for key, text in reason.items()
                    if "engine not answering" in text] == ["default-master-2.Ready"]
            wait_for(lambda: _health(stack, cluster_uuid)[0] == "HEALTHY", 120,
                     "HEALTHY again")
            print(f"\nunhealthy -> healed through the conductor: "
                  f"{time.monotonic() - started:.1f}s")
            events = stack.api.get(f"/v1/clusters/{cluster_uuid}/events").json()["events"]
            assert any(e["reason"] == "Healed" and "default-master-2" in e["message"]
                       for e in events), events
            ca = stack.api.get(f"/v1/certificates/{cluster_uuid}").json()["pem"]
            pki = UserPKI(stack, cluster_uuid, ca)
            assert len(managers(pki, body["api_address"], tmp_path)) == 3  # type: ignore
            assert stack.api.delete(f"/v1/clusters/{cluster_uuid}").status_code == 204
            stack.wait_gone(cluster_uuid, timeout=180)
            assert_nothing_left(driver, cluster_uuid)
    finally:
        if cluster_uuid:
            with cleaned(driver, cluster_uuid):
                pass


def _health(stack: object, cluster_uuid: str) -> tuple[str, dict[str, str]]:
    body = stack.api.get(f"/v1/clusters/{cluster_uuid}").json()  # type: ignore[attr-defined]
    return body["health_status"], body["health_status_reason"] or {}


def _unhealthy(stack: object, cluster_uuid: str) -> tuple[str, dict[str, str]] | None:
    status, reason = _health(stack, cluster_uuid)
    return (status, reason) if status == "UNHEALTHY" else None


def _spec_of(driver: LocalSwarmDriver, cluster_uuid: str) -> ClusterSpec:
    """The spec the conductor hands the driver, as far as the node layout goes."""
    return ha_spec(uuid=cluster_uuid, name="ha")


def test_the_balancer_is_recognised_after_a_crash(driver: LocalSwarmDriver) -> None:
    """A running HAProxy is kept across passes (pid file + command line), restarted when the
    manager set changes, and stopped for good by ``stop``."""
    listen = f"127.{os.getpid() % 250}.{int(time.time()) % 250}.1"  # any loopback address
    lb = balancer.Balancer(name="magna-test", listen=listen, backends=["127.0.0.2"],
                           state_dir=str(Path(driver.root, "lb")),
                           run_dir=str(Path(driver.root, "lb-run")))
    try:
        assert balancer.ensure(lb)
        first = balancer.pid_of(lb)
        assert first is not None
        assert not balancer.ensure(lb) and balancer.pid_of(lb) == first
        moved = replace(lb, backends=["127.0.0.2", "127.0.0.3"])
        assert balancer.ensure(moved)
        second = balancer.pid_of(moved)
        assert second is not None and second != first and not processes.alive(first)
    finally:
        balancer.stop(lb)
    assert balancer.pid_of(lb) is None


def test_five_managers_scale_down_to_three(driver: LocalSwarmDriver, tmp_path: Path) -> None:
    spec, pki = ha_spec(masters=5, workers=0), TinyPKI()
    with cleaned(driver, spec.uuid):
        started = time.monotonic()
        observed = converge(driver, spec, pki, timeout=300)
        print(f"\nlocal-swarm create 5 masters with LB: {time.monotonic() - started:.1f}s")
        assert observed.api_address is not None
        listed = managers(pki, observed.api_address, tmp_path)
        assert sorted(line.split()[1] for line in listed) == ["Leader"] + ["Reachable"] * 4
        smaller = replace(spec, generation=2, nodegroups=(
            replace(spec.nodegroups[0], node_count=3), spec.nodegroups[1]))
        started = time.monotonic()
        observed = converge(driver, smaller, pki, timeout=240)
        print(f"local-swarm scale masters 5 -> 3: {time.monotonic() - started:.1f}s")
        assert observed.api_address is not None
        assert [line.split()[0] for line in managers(pki, observed.api_address, tmp_path)] == [
            "t-default-master-0", "t-default-master-1", "t-default-master-2"]
        config = Path(driver.root, spec.uuid, "balancer", "haproxy.cfg").read_text()
        assert config.count(" check ") == 3
        assert len(haproxy_pids(driver, spec)) == 1
