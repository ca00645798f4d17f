"""What the tests of the local Swarm driver share, and the other tests that build its clusters.

They drive the driver directly: a hand-made ``ClusterSpec`` (``make_spec``) and ``TinyPKI``, a
cluster CA from ``magna.crypto.x509.generate_ca`` as the conductor hands it to drivers, applied
until the cluster converges (``converge``). What they check is the host, not what the driver
says: ``run`` (a command's output whatever its status), ``forward_rules``, ``ping`` from a
namespace, ``engine_pids``, and the stock ``docker`` CLI with a user's certificate
(``docker_cli``, ``ready_hostnames``; ``UserPKI`` signs it through the API instead).
``cleaned`` and ``deleted_after`` delete a cluster however a test ends; ``brute_force_cleanup``
then removes whatever on the host still carries its short id, and ``assert_nothing_left``
checks that nothing does.

These lived in ``test_local_swarm.py``; the Kubernetes, storage, SSH, fence and container tests
build local clusters with them too, so they are here rather than imported from a test module.
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
from pathlib import Path

import pytest

from magna.common.exceptions import TemporaryError
from magna.crypto import x509
from magna.drivers.base import ClusterSpec, NodeGroupSpec, Observed
from magna.drivers.local_nodes import engine, network
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.conductor import Stack

# The marks of every module that runs the driver's engines (``pytestmark = NEEDS_ENGINES``).
NEEDS_ENGINES = [
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
            for pid in run("ip", "netns", "pids", netns).split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            run("ip", "netns", "del", netns)
    for link in os.listdir("/sys/class/net"):
        if short in link:
            run("ip", "link", "del", link)
    for rule in forward_rules(short):
        run("iptables", "-w", "-D", *rule.split()[1:])
    for tool in ("iptables", "ip6tables"):
        for line in run(tool, "-w", "-S", "INPUT").splitlines():
            if f"mgb{short}" in line.split():
                run(tool, "-w", "-D", *line.split()[1:])
    run("iptables", "-w", "-F", f"magna-in-{short}")
    run("iptables", "-w", "-X", f"magna-in-{short}")
    engine.unmount_under(f"/run/magna/{short}")
    shutil.rmtree(f"/run/magna/{short}", ignore_errors=True)
    engine.forget_authz("/run/magna/seal", f"magna-{short}-", exact=False)


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=False).stdout


def forward_rules(word: str) -> list[str]:
    return [line for line in run("iptables", "-w", "-S", "FORWARD").splitlines()
            if word in line]


def assert_nothing_left(driver: LocalSwarmDriver, cluster_uuid: str) -> None:
    short = network.short_id(cluster_uuid)
    assert f"magna-{short}-" not in run("ip", "netns", "list")
    assert not [link for link in os.listdir("/sys/class/net") if short in link]
    assert not forward_rules(short)
    assert short not in run("iptables", "-w", "-S") + run("ip6tables", "-w", "-S")
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


def ping(netns: str | None, address: str) -> bool:
    prefix = ["nsenter", f"--net=/run/netns/{netns}"] if netns else []
    return subprocess.run([*prefix, "busybox", "ping", "-c", "1", "-W", "1", address],
                          capture_output=True, check=False).returncode == 0


class UserPKI:
    """Signing through ``POST /v1/certificates``, as a user with the openstack client would."""

    def __init__(self, stack: object, cluster_uuid: str, ca_pem: str) -> None:
        self.stack, self.cluster_uuid, self.ca_pem = stack, cluster_uuid, ca_pem

    def sign(self, csr_pem: str) -> str:
        response = self.stack.api.post(  # type: ignore[attr-defined]
            "/v1/certificates", json={"cluster_uuid": self.cluster_uuid, "csr": csr_pem})
        assert response.status_code == 201, response.text
        pem: str = response.json()["pem"]
        return pem
