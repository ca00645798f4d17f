"""SSH into local nodes with the cluster's keypair, and what a tenant holding that key can and
cannot do from a session (docs/security.md, "SSH sessions").

Real clusters of the local Swarm driver (driven directly, as in test_local_swarm.py), the stock
``ssh`` client from the host, real sshd in the nodes. One module-scoped cluster with a keypair
and proxies (1 master + 1 worker) and one without a keypair (1 master) serve every test.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from magna.common.processes import alive
from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.local_nodes import daemons, network, ssh
from magna.drivers.local_nodes.node import LocalNode
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.local_swarm import TinyPKI, brute_force_cleanup, converge, make_spec
from tests.support.ssh import login, make_key

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None
                       or shutil.which("sshd") is None or shutil.which("ssh") is None,
                       reason="needs root, docker.io, openssh-server and openssh-client"),
]

PROXY = "http://proxy.example:3128"


@dataclass(frozen=True)
class Built:
    driver: LocalSwarmDriver
    spec: ClusterSpec
    pki: TinyPKI
    key: Path
    state: Path

    def nodes(self) -> dict[str, LocalNode]:
        return {node.name: node for node in self.driver._members(self.spec)}


def sh(built: Built, node: LocalNode, command: str) -> str:
    done = login(built.key, "debian", node.address, command)
    assert done.returncode == 0, done.stderr
    return done.stdout


def spec_of(**overrides: object) -> ClusterSpec:
    groups = (NodeGroupSpec(uuid="m", name="default-master", role="master", node_count=1,
                            flavor_id="m1.small", image_id=None),
              NodeGroupSpec(uuid="w", name="default-worker", role="worker", node_count=1,
                            flavor_id="m1.small", image_id=None))
    return make_spec(nodegroups=groups, **overrides)


@contextlib.contextmanager
def built(tmp: Path, spec: ClusterSpec) -> Iterator[Built]:
    state = tmp / "state"
    (state / "keypairs").mkdir(parents=True, exist_ok=True)
    key = make_key(tmp / "key")
    (state / "keypairs" / "tenant.pub").write_text(Path(f"{key}.pub").read_text())
    driver, pki = LocalSwarmDriver(make_conf(state)), TinyPKI()
    try:
        converge(driver, spec, pki)
        yield Built(driver, spec, pki, key, state)
    finally:
        try:
            assert driver.delete(spec)
        finally:
            brute_force_cleanup(network.short_id(spec.uuid))


@pytest.fixture(scope="module")
def with_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    spec = spec_of(keypair="tenant", http_proxy=PROXY, no_proxy="localhost,.example")
    with built(tmp_path_factory.mktemp("ssh"), spec) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def without_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    spec = make_spec(nodegroups=(NodeGroupSpec(uuid="m", name="default-master", role="master",
                                               node_count=1, flavor_id="m1.small",
                                               image_id=None),))
    with built(tmp_path_factory.mktemp("nossh"), spec) as cluster:
        yield cluster


def test_the_keypair_logs_in_sudo_runs_docker_and_proxies_are_set(with_key: Built) -> None:
    for node in with_key.nodes().values():
        client = docker.APIClient(base_url=f"unix://{node.engine.socket}", version="auto")
        container = client.create_container("magna/busybox:latest", ["sleep", "300"],
                                            name=f"seen-on-{node.name}")
        client.start(container)
        assert sh(with_key, node, "id -un").strip() == "debian"
        assert sh(with_key, node, "sudo id -u").strip() == "0"
        assert f"seen-on-{node.name}" in sh(with_key, node,
                                            "sudo docker ps --format '{{.Names}}'")
        env = sh(with_key, node, "env")
        assert f"http_proxy={PROXY}" in env and f"HTTP_PROXY={PROXY}" in env
        assert "no_proxy=localhost,.example" in env
        assert f"http_proxy={PROXY}" in sh(with_key, node, "sudo env")
        assert f"http_proxy={PROXY}\n" in sh(with_key, node, "cat /etc/environment")


def test_other_keys_passwords_and_root_are_refused(with_key: Built, tmp_path: Path) -> None:
    node = with_key.nodes()["default-worker-0"]
    stranger = make_key(tmp_path / "stranger")
    refused = login(stranger, "debian", node.address, "true")
    assert refused.returncode == 255 and "Permission denied (publickey)" in refused.stderr
    as_root = login(with_key.key, "root", node.address, "true")
    assert as_root.returncode == 255 and "Permission denied" in as_root.stderr
    password = login(with_key.key, "debian", node.address, "true", "-o",
                     "PubkeyAuthentication=no", "-o",
                     "PreferredAuthentications=password,keyboard-interactive")
    assert password.returncode == 255
    assert "Permission denied (publickey)" in password.stderr  # the only method offered


def test_a_cluster_without_keypair_has_no_ssh_server(without_key: Built) -> None:
    node = without_key.nodes()["default-master-0"]
    assert not ssh.configured(node)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((node.address, 22), timeout=5).close()


def test_a_dead_ssh_server_is_reported_and_healed(with_key: Built) -> None:
    node = with_key.nodes()["default-worker-0"]
    pid = daemons.pid_of(node, ssh.NAME)
    assert pid is not None
    doomed = (*daemons.engine.children(pid), pid)
    for process in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process, signal.SIGKILL)
    _wait_gone(doomed)
    seen = {s.name: s for s in with_key.driver.observe(with_key.spec, with_key.pki).nodes}
    assert not seen[node.name].healthy and "sshd not running" in seen[node.name].reason
    observed = with_key.driver.heal(with_key.spec, with_key.pki)
    assert all(status.healthy for status in observed.nodes), daemons.log_tail(node, ssh.NAME)
    assert sh(with_key, node, "id -un").strip() == "debian"


def _wait_gone(pids: tuple[int, ...]) -> None:
    """The killed processes are gone (reaped: the listener no longer holds port 22)."""
    for _ in range(200):
        if not any(alive(pid) for pid in pids):
            return
        time.sleep(0.05)
    raise AssertionError("sshd still runs")


# -- a tenant with the key, as the session's root, attacks ------------------------------------

def as_root(cluster: Built, node: LocalNode, script: str) -> subprocess.CompletedProcess[str]:
    return login(cluster.key, "debian", node.address, f"sudo sh -c {_quote(script)}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def test_session_root_is_an_unprivileged_host_user(with_key: Built) -> None:
    node = with_key.nodes()["default-master-0"]
    seen = as_root(with_key, node, "id -u; cat /proc/self/uid_map").stdout.split()
    assert seen == ["0", "0", str(node.engine.id_base), "65536"]
    listener = daemons.pid_of(node, ssh.NAME)
    assert listener is not None
    sshd = daemons.engine.children(listener)[0]
    assert os.stat(f"/proc/{sshd}").st_uid == node.engine.id_base


def test_session_root_cannot_read_or_change_the_host_or_the_node(with_key: Built) -> None:
    node = with_key.nodes()["default-master-0"]
    with open("/etc/shadow") as handle:
        host_shadow = handle.readline().strip()
    state = str(with_key.state)
    done = as_root(with_key, node, f"""
        cat /etc/shadow /proc/1/root/etc/shadow /proc/1/environ; ls {state} /run/magna
        cat /etc/docker/tls/key.pem
        echo x >> /etc/passwd && echo WROTE-PASSWD
        echo '{{}}' > /etc/docker/daemon.json && echo WROTE-DAEMON-JSON
        kill -9 "$(cat /run/dockerd.pid)" && echo KILLED-DOCKERD
        mount -t tmpfs none /tmp && echo MOUNTED-TMPFS
        mount --bind / /opt && echo MOUNTED-BIND
        mknod /tmp/disk b 8 0 && echo MADE-DEVICE
        sysctl -w net.ipv4.ip_forward=0 && echo WROTE-SYSCTL
        ip link add magnax type dummy && echo ADDED-LINK
        iptables -F && echo FLUSHED-IPTABLES
        nsenter -t 1 -a true && echo ENTERED-PID-1
        python3 -c 'import ctypes; c = ctypes.CDLL(None, use_errno=True); \
print("MODULE", c.syscall(175, None, 0, b""), ctypes.get_errno())'
        true""")
    out = done.stdout + done.stderr
    assert host_shadow not in out
    for word in ("WROTE-", "KILLED-", "MOUNTED-", "MADE-", "ADDED-", "FLUSHED-", "ENTERED-"):
        assert word not in out, out
    assert "BEGIN" not in out  # no private key
    # NOTE: init_module checks CAP_SYS_MODULE (of the host) before it looks at the image:
    # EPERM; ENOSYS on a kernel without loadable modules
    assert re.search(r"^MODULE -1 (1|38)$", out, re.MULTILINE), out


def test_session_root_reaches_neither_the_host_nor_another_cluster(
        with_key: Built, without_key: Built) -> None:
    node = with_key.nodes()["default-master-0"]
    listener = socket.create_server(("0.0.0.0", 0))
    try:
        port = listener.getsockname()[1]
        gateway = str(node.net.allocation.gateway)
        other = without_key.nodes()["default-master-0"].address
        done = as_root(with_key, node, f"""
            for target in {gateway}/{port} {gateway}/22 {other}/2375 {other}/22; do
              timeout 3 bash -c "echo > /dev/tcp/${{target%/*}}/${{target#*/}}" \
                2>/dev/null && echo "REACHED $target"
            done; true""")
    finally:
        listener.close()
    assert "REACHED" not in done.stdout, done.stdout


# -- Kubernetes: SSH and sudo, no docker -------------------------------------------------------

@pytest.mark.kubernetes
def test_kubernetes_nodes_take_ssh_but_withhold_docker(tmp_path: Path) -> None:
    from magna.drivers.local_kubernetes import agents
    from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
    from tests.support.kubernetes import bin_dir
    from tests.support.local_kubernetes import converge as kube_converge
    from tests.support.local_kubernetes import make_spec as kube_spec

    bin_dir()
    state = tmp_path / "state"
    (state / "keypairs").mkdir(parents=True)
    key = make_key(tmp_path / "key")
    (state / "keypairs" / "tenant.pub").write_text(Path(f"{key}.pub").read_text())
    driver, pki = LocalKubernetesDriver(make_conf(state)), TinyPKI()
    spec = kube_spec(workers=0, keypair="tenant", http_proxy=PROXY)
    try:
        kube_converge(driver, spec, pki)
        node = driver._members(spec)[0]
        run = lambda command: login(key, "core", node.address, command)  # noqa: E731
        assert run("id -un").stdout.strip() == "core"  # fedora-coreos's user
        assert run("sudo id -u").stdout.strip() == "0"
        assert f"http_proxy={PROXY}" in run("env").stdout
        refused = run("sudo docker ps")
        assert refused.returncode != 0 and "permission denied" in refused.stderr.lower()
        kubelet = daemons.pid_of(node, agents.KUBELET)
        assert kubelet is not None
        child = daemons.engine.children(kubelet)[0]
        with open(f"/proc/{child}/environ", "rb") as handle:
            environ = handle.read().split(b"\0")
        assert f"HTTP_PROXY={PROXY}".encode() in environ
    finally:
        try:
            assert driver.delete(spec)
        finally:
            brute_force_cleanup(network.short_id(spec.uuid))
