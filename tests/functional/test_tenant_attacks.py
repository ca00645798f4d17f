"""Attacks on a sealed cluster, made as a tenant would: with nothing but the docker environment
``magna cluster-config`` hands out, against a real ``magna serve`` on the local Swarm driver.

Two clusters run side by side: the attacker's (``alpha``, on m1.tiny nodes: 512 MiB) and a
bystander's (``beta``, with a service of its own). Every attack must fail, or show nothing of
the host; each test asserts what the tenant sees. At the end the bystander's cluster is checked
untouched: its engine answers, its container still runs, its health is HEALTHY.

The clusters are built once for the module (about 10 s each) and always deleted.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support.listener import stand_in_listener
from tests.support.server import RunningServer, magna_server

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None
                       or shutil.which("docker") is None,
                       reason="needs root, docker.io and the docker CLI"),
]

IMAGE = "magna/busybox:latest"
REFUSED = "authorization denied by plugin magna-seal"


@dataclass
class Cluster:
    name: str
    env: dict[str, str]
    manager: str  # the node address DOCKER_HOST names


@dataclass
class Site:
    server: RunningServer
    state_dir: pathlib.Path
    alpha: Cluster
    beta: Cluster
    listener_port: int


def _magna(server: RunningServer, cwd: pathlib.Path, *args: str) -> str:
    env = {**os.environ, "MAGNA_URL": server.url,
           "PATH": f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["magna", *args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _cluster(server: RunningServer, cwd: pathlib.Path, name: str) -> Cluster:
    _magna(server, cwd, "bay-create", "--name", name, "--baymodel", "tiny",
           "--master-count", "1", "--node-count", "1", "--wait")
    exports = _magna(server, cwd, "cluster-config", name, "--dir", f"{name}-certs")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DOCKER_")}
    for line in exports.splitlines():
        match = re.fullmatch(r"export (\w+)=(.*)", line.strip())
        if match:
            env[match.group(1)] = shlex.split(match.group(2))[0]
    host = re.fullmatch(r"tcp://([\d.]+):\d+", env["DOCKER_HOST"])
    assert host, env["DOCKER_HOST"]
    return Cluster(name, env, host.group(1))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("attacks")
    state = work / "state"
    with magna_server(str(state)) as server, stand_in_listener() as port:
        _magna(server, work, "cluster-template-create", "--name", "tiny", "--coe",
               "swarm-mode", "--image", "debian-12-docker", "--external-network", "public",
               "--flavor", "m1.tiny", "--master-flavor", "m1.tiny")
        try:
            alpha = _cluster(server, work, "alpha")
            beta = _cluster(server, work, "beta")
            _docker(beta, "run", "-d", "--name", "bystander", IMAGE, "sleep", "3600",
                    check=True)
            yield Site(server, state, alpha, beta, port)
        finally:
            for name in ("alpha", "beta"):
                with contextlib.suppress(AssertionError):
                    _magna(server, work, "bay-delete", name, "--wait")


def _docker(cluster: Cluster, *args: str, check: bool = False,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], env=cluster.env, capture_output=True,
                            text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _refused(result: subprocess.CompletedProcess[str], says: str) -> None:
    assert result.returncode != 0, result.stdout
    assert REFUSED in result.stderr, result.stderr
    assert says.lower() in result.stderr.lower(), result.stderr


# -- the filesystem ----------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["/", "/etc", "/proc", "/sys", "/dev", "/run", "/var/lib",
                                    "/run/magna", "/root", "/home"])
def test_no_host_path_can_be_bound(site: Site, source: str) -> None:
    result = _docker(site.alpha, "run", "--rm", "-v", f"{source}:/host", IMAGE, "ls", "/host")
    _refused(result, "bind mount")


def test_the_state_directory_cannot_be_bound(site: Site) -> None:
    result = _docker(site.alpha, "run", "--rm", "-v", f"{site.state_dir}:/s", IMAGE,
                     "cat", "/s/ca-encryption.key")
    _refused(result, "bind mount")
    assert "host secret" not in result.stdout


def test_a_mount_of_type_bind_is_refused(site: Site) -> None:
    result = _docker(site.alpha, "run", "--rm", "--mount", "type=bind,src=/,dst=/host", IMAGE,
                     "true")
    _refused(result, "type bind")


def test_a_volume_in_disguise_is_refused(site: Site) -> None:
    result = _docker(site.alpha, "volume", "create", "-o", "type=none", "-o", "o=bind",
                     "-o", "device=/", "sneaky")
    _refused(result, "volume")


# -- privileges --------------------------------------------------------------------------------

@pytest.mark.parametrize(("flags", "says"), [
    (["--privileged"], "privileged"),
    (["--pid=host"], "host"),
    (["--ipc=host"], "host"),
    (["--uts=host"], "host"),
    (["--net=host"], "host"),
    (["--userns=host"], "host"),
    (["--cap-add=ALL"], "capabilit"),
    (["--cap-add=SYS_ADMIN"], "capabilit"),
    (["--device=/dev/null:/dev/xnull"], "device"),
    (["--security-opt", "seccomp=unconfined"], "security"),
    (["--cgroup-parent=/"], "cgroup"),
])
def test_privileges_are_refused(site: Site, flags: list[str], says: str) -> None:
    result = _docker(site.alpha, "run", "--rm", *flags, IMAGE, "true")
    _refused(result, says)


def test_privileged_exec_is_refused(site: Site) -> None:
    _docker(site.alpha, "run", "-d", "--name", "victim", IMAGE, "sleep", "600", check=True)
    try:
        _refused(_docker(site.alpha, "exec", "--privileged", "victim", "id"), "privileged")
        plain = _docker(site.alpha, "exec", "victim", "id", "-u", check=True)
        assert plain.stdout.strip() == "0", "root inside the container, remapped outside"
    finally:
        _docker(site.alpha, "rm", "-f", "victim")


def test_a_service_cannot_smuggle_a_bind_or_a_capability(site: Site) -> None:
    _refused(_docker(site.alpha, "service", "create", "--name", "s1", "--mount",
                     "type=bind,src=/,dst=/host", IMAGE, "sleep", "60"), "type bind")
    _refused(_docker(site.alpha, "service", "create", "--name", "s2", "--cap-add", "ALL",
                     IMAGE, "sleep", "60"), "capabilit")


# -- the network -------------------------------------------------------------------------------

def _reaches(cluster: Cluster, address: str, port: int) -> bool:
    # NOTE: busybox nc has no -z: it exits 0 once connected and its stdin is sent.
    result = _docker(cluster, "run", "--rm", IMAGE, "sh", "-c",
                     f"printf x | nc -w 2 {address} {port} >/dev/null 2>&1")
    return result.returncode == 0


def _host_addresses(site: Site) -> list[str]:
    """The host's own addresses, and the two clusters' gateways; other magna bridges (another
    test's clusters, which may come and go meanwhile) are left out."""
    output = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                            text=True, check=True).stdout
    found = [match.group(2) for match in re.finditer(r"^\d+: (\S+)\s+inet ([\d.]+)/", output,
                                                     re.M)
             if not match.group(1).startswith("mgb") and not match.group(2).startswith("127.")]
    gateways = [cluster.manager.rsplit(".", 1)[0] + ".1" for cluster in (site.alpha, site.beta)]
    return [*found, *gateways]


def test_host_services_are_out_of_reach(site: Site) -> None:
    """The stand-in listens on every address of the host; the host itself reaches it on each,
    the tenant's containers on none. PostgreSQL, RabbitMQ and the API listen on loopback on
    this machine, and stay out of reach on every host address too."""
    api_port = int(httpx.URL(site.server.url).port or 0)
    addresses = _host_addresses(site)
    assert addresses
    for address in addresses:
        with socket.create_connection((address, site.listener_port), timeout=2):
            pass  # reachable from the host: the refusal below is the fence's doing
        for target in (site.listener_port, 5432, 5672, api_port):
            assert not _reaches(site.alpha, address, target), f"{address}:{target}"


def test_another_cluster_is_out_of_reach(site: Site) -> None:
    assert not _reaches(site.alpha, site.beta.manager, 2375)
    assert not _reaches(site.alpha, site.beta.manager, 2377)


def test_the_own_cluster_is_reachable(site: Site) -> None:
    """The fence is not a wall: the cluster's other node answers from a container."""
    ids = _docker(site.alpha, "node", "ls", "-q", check=True).stdout.split()
    addresses = {_docker(site.alpha, "node", "inspect", "-f", "{{.Status.Addr}}", node,
                         check=True).stdout.strip() for node in ids}
    others = sorted(addresses - {site.alpha.manager})
    assert others, addresses
    assert _reaches(site.alpha, others[0], 2375)


# -- resources ---------------------------------------------------------------------------------

def test_memory_past_the_flavor_kills_the_workload_not_the_node(site: Site) -> None:
    # NOTE: dd fills a 900 MiB buffer (one block), far past the node's 512 MiB.
    hog = _docker(site.alpha, "run", "--rm", IMAGE, "sh", "-c",
                  "dd if=/dev/zero of=/dev/null bs=900M count=1 && echo survived", timeout=180)
    assert "survived" not in hog.stdout, hog.stdout + hog.stderr
    assert hog.returncode == 137, hog.stdout + hog.stderr
    _docker(site.alpha, "version", check=True)


def test_the_readme_example_is_what_a_tenant_sees(site: Site) -> None:
    """The README's example of a refused attack, run as written."""
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("## What a cluster's users can reach", 1)[1]
    match = re.search(r"```console\n\$ (.*?)\n(.*?)\n```", block, re.S)
    assert match, "the README shows a refused attack"
    command, expected = match.group(1), match.group(2)
    result = _docker(site.alpha, *shlex.split(command)[1:])
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[0] == expected.strip()


# -- the bystander -----------------------------------------------------------------------------

def test_zz_the_other_tenants_cluster_is_untouched(site: Site) -> None:
    """Runs last (module order): after every attack, beta still answers and still runs."""
    state = _docker(site.beta, "inspect", "-f", "{{.State.Status}}", "bystander", check=True)
    assert state.stdout.strip() == "running"
    deadline = time.monotonic() + 90
    while True:  # the health thread looks at settled clusters every few seconds
        shown = httpx.get(f"{site.server.endpoint}/clusters/beta", timeout=30).json()
        if shown["health_status"] == "HEALTHY" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert shown["status"] == "CREATE_COMPLETE"
    assert shown["health_status"] == "HEALTHY", shown

