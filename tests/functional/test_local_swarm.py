"""The local Swarm driver builds real clusters on this host: namespaces, engines, a swarm.

These tests drive the driver directly (a hand-made ``ClusterSpec`` and a tiny PKI whose CA comes
from ``magna.crypto.x509.generate_ca``) and once end to end through the API and an in-process
conductor. They check what exists on the host, not what the driver says: ``ip netns``, links,
iptables, processes, and the stock ``docker`` CLI talking TLS to the cluster's manager.

Each test deletes its cluster in ``finally``; when a test failed, a brute-force sweep removes
whatever still carries the cluster's short id. Timings are printed (run with ``-s``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from magna.common.exceptions import TemporaryError
from magna.crypto import x509
from magna.drivers.base import ClusterSpec, NodeGroupSpec, Observed
from magna.drivers.local_nodes import engine, host, image, network
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.conductor import FAST, Stack, conductor_stack

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None
                       or shutil.which("docker") is None,
                       reason="needs root, docker.io and the docker CLI"),
]

POLICY = x509.SigningPolicy(allowed_extensions=["keyUsage", "extendedKeyUsage", "subjectAltName",
                                                "basicConstraints"],
                            allowed_key_usage=["Digital Signature", "Key Encipherment"])


class TinyPKI:
    """A cluster CA as the conductor hands it to drivers."""

    def __init__(self) -> None:
        self.pair = x509.generate_ca("test-cluster", key_size=2048, days=30, now=_now())
        self.signed = 0

    @property
    def ca_pem(self) -> str:
        return self.pair.certificate_pem

    def sign(self, csr_pem: str) -> str:
        self.signed += 1
        return x509.sign_csr(csr_pem, ca=self.pair, days=30, now=_now(), policy=POLICY)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_spec(**overrides: object) -> ClusterSpec:
    fields: dict[str, object] = dict(
        uuid=str(uuid.uuid4()), name="t", project_id="p", coe="swarm-mode", generation=1,
        template_uuid="tpl", image_id="debian-12-docker", labels={},
        nodegroups=(NodeGroupSpec(uuid="m", name="default-master", role="master", node_count=1,
                                  flavor_id="m1.small", image_id=None),
                    NodeGroupSpec(uuid="w", name="default-worker", role="worker", node_count=2,
                                  flavor_id="m1.small", image_id=None)))
    fields.update(overrides)
    return ClusterSpec(**fields)  # type: ignore[arg-type]


def converge(driver: LocalSwarmDriver, spec: ClusterSpec, pki: TinyPKI,
             timeout: float = 120) -> Observed:
    deadline = time.monotonic() + timeout
    while True:
        try:
            observed = driver.apply(spec, pki)
            if observed.converged:
                return observed
        except TemporaryError:
            pass
        assert time.monotonic() < deadline, "the cluster did not converge"
        time.sleep(0.5)


@pytest.fixture
def driver(tmp_path: Path) -> LocalSwarmDriver:
    return LocalSwarmDriver(make_conf(tmp_path / "state"))


@contextlib.contextmanager
def cleaned(driver: LocalSwarmDriver, cluster_uuid: str) -> Iterator[None]:
    try:
        yield
    finally:
        try:
            assert driver.delete(make_spec(uuid=cluster_uuid))
        finally:
            brute_force_cleanup(network.short_id(cluster_uuid))


@contextlib.contextmanager
def deleted_after(stack: Stack, driver: LocalSwarmDriver, cluster_uuid: str) -> Iterator[None]:
    """For a cluster made through a running ``stack``: when the block ends, however it ends,
    the cluster is deleted through the API first (the stack's conductor would otherwise rebuild
    what a direct cleanup removed while it still runs), then by force (``cleaned``)."""
    try:
        yield
    finally:
        with cleaned(driver, cluster_uuid):
            stack.api.delete(f"/v1/clusters/{cluster_uuid}")
            with contextlib.suppress(AssertionError):
                stack.wait_gone(cluster_uuid, timeout=180)


def brute_force_cleanup(short: str) -> None:
    """Remove anything on the host that carries ``short``, whatever the driver thinks."""
    for pid in engine.processes_using(f"/run/magna/{short}"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for netns in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
        if netns.startswith(f"magna-{short}-"):
            for pid in _run("ip", "netns", "pids", netns).split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            _run("ip", "netns", "del", netns)
    for link in os.listdir("/sys/class/net"):
        if short in link:
            _run("ip", "link", "del", link)
    for rule in _forward_rules(short):
        _run("iptables", "-w", "-D", *rule.split()[1:])
    for tool in ("iptables", "ip6tables"):
        for line in _run(tool, "-w", "-S", "INPUT").splitlines():
            if f"mgb{short}" in line.split():
                _run(tool, "-w", "-D", *line.split()[1:])
    _run("iptables", "-w", "-F", f"magna-in-{short}")
    _run("iptables", "-w", "-X", f"magna-in-{short}")
    engine.unmount_under(f"/run/magna/{short}")
    shutil.rmtree(f"/run/magna/{short}", ignore_errors=True)
    engine.forget_authz("/run/magna/seal", f"magna-{short}-", exact=False)


def _run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=False).stdout


def _forward_rules(word: str) -> list[str]:
    return [line for line in _run("iptables", "-w", "-S", "FORWARD").splitlines()
            if word in line]


def assert_nothing_left(driver: LocalSwarmDriver, cluster_uuid: str) -> None:
    short = network.short_id(cluster_uuid)
    assert f"magna-{short}-" not in _run("ip", "netns", "list")
    assert not [link for link in os.listdir("/sys/class/net") if short in link]
    assert not _forward_rules(short)
    assert short not in _run("iptables", "-w", "-S") + _run("ip6tables", "-w", "-S")
    assert not engine.processes_using(os.path.join(driver.root, cluster_uuid),
                                      f"/run/magna/{short}")
    assert not os.path.exists(os.path.join(driver.root, cluster_uuid))
    assert not os.path.exists(f"/run/magna/{short}")
    with open("/proc/self/mountinfo") as handle:
        assert cluster_uuid not in handle.read()


def docker_cli(pki: TinyPKI, api_address: str, tmp_path: Path, *args: str,
               refused: bool = False) -> str:
    """The stock docker CLI with a client certificate a user would get from the cluster CA;
    its output, or with ``refused`` its error (the command must then fail)."""
    key = x509.new_key(2048)
    cert = pki.sign(x509.make_csr(common_name="user", organization=None, key=key))
    (tmp_path / "ca.pem").write_text(pki.ca_pem)
    (tmp_path / "cert.pem").write_text(cert)
    (tmp_path / "key.pem").write_bytes(x509.key_to_pem(key))
    done = subprocess.run(
        ["docker", "--tlsverify", "--tlscacert", str(tmp_path / "ca.pem"),
         "--tlscert", str(tmp_path / "cert.pem"), "--tlskey", str(tmp_path / "key.pem"),
         "-H", api_address, *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    if refused:
        assert done.returncode != 0, done.stdout
        return done.stderr
    assert done.returncode == 0, done.stderr
    return done.stdout


def ready_hostnames(pki: TinyPKI, api_address: str, tmp_path: Path) -> list[str]:
    out = docker_cli(pki, api_address, tmp_path, "node", "ls", "--format",
                     "{{.Hostname}} {{.Status}} {{.Availability}}")
    return sorted(line.split()[0] for line in out.splitlines() if " Ready Active" in line)


def engine_pids(driver: LocalSwarmDriver, spec: ClusterSpec) -> dict[str, int | None]:
    allocation = network.read_allocation(os.path.join(driver.root, spec.uuid))
    assert allocation is not None
    nodes = driver.nodes.planned(spec, allocation)
    return {node.name: engine.pid_of(node.engine) for node in nodes}


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
        assert f"magna-{network.short_id(spec.uuid)}-default-worker-0" not in _run(
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
        assert _ping(None, a.address) and _ping(None, b.address)
        assert _ping(netns_a, gateway_a)
        assert not _ping(netns_a, b.address)
        for spec in specs:
            assert len(_forward_rules(network.bridge_name(spec.uuid))) == 3


def _ping(netns: str | None, address: str) -> bool:
    prefix = ["nsenter", f"--net=/run/netns/{netns}"] if netns else []
    return subprocess.run([*prefix, "busybox", "ping", "-c", "1", "-W", "1", address],
                          capture_output=True, check=False).returncode == 0


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
            pki = _UserPKI(stack, cluster_uuid, ca)
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


class _UserPKI:
    """Signing through ``POST /v1/certificates``, as a user with the openstack client would."""

    def __init__(self, stack: object, cluster_uuid: str, ca_pem: str) -> None:
        self.stack, self.cluster_uuid, self.ca_pem = stack, cluster_uuid, ca_pem

    def sign(self, csr_pem: str) -> str:
        response = self.stack.api.post(  # type: ignore[attr-defined]
            "/v1/certificates", json={"cluster_uuid": self.cluster_uuid, "csr": csr_pem})
        assert response.status_code == 201, response.text
        pem: str = response.json()["pem"]
        return pem


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
