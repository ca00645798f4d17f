"""Network fences, tried from a tenant's container: the host answers a cluster's nodes only on
what the cluster needs (its load balancer, its registry), nothing else it listens on, through
no address (own gateway, the host's uplink, another cluster's gateway), and no other cluster's
nodes answer.

Two real clusters built by the driver (as in ``test_local_swarm``, with the helpers of
``tests/support/local_swarm.py``): A with a load balancer and a registry, B plain. A stand-in
for the host's services (PostgreSQL, RabbitMQ, the API, SSH) is a TCP server this test starts
on ``0.0.0.0``; probes are busybox ``nc`` in a container run with the stock docker CLI and the
cluster's TLS files. All traffic goes to loopback, this host's addresses and the namespaces the
test created.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from magna.drivers.base import ClusterSpec
from magna.drivers.local_nodes import fence, image, network, registry
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support import local_swarm as swarm
from tests.support.listener import stand_in_listener
from tests.support.local_swarm import TinyPKI, make_spec, run

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None
                       or shutil.which("docker") is None
                       or shutil.which("docker-registry") is None
                       or shutil.which("haproxy") is None,
                       reason="needs root, docker.io, the docker CLI, docker-registry, haproxy"),
]


@pytest.fixture
def driver(tmp_path: Path) -> LocalSwarmDriver:
    return LocalSwarmDriver(make_conf(tmp_path / "state"))


def uplink_address() -> str:
    """The host's address on its default route's interface (not loopback, not a bridge)."""
    fields = run("ip", "-4", "route", "show", "default").split()
    if "dev" not in fields:
        pytest.skip("the host has no default route")
    out = run("ip", "-o", "-4", "addr", "show", "dev", fields[fields.index("dev") + 1])
    words = out.split()
    return str(ipaddress.IPv4Interface(words[words.index("inet") + 1]).ip)


def connects(address: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=2):
        return True
    return False


def probe_from_container(pki: TinyPKI, api: str, tmp_path: Path,
                         targets: list[tuple[str, int]]) -> dict[tuple[str, int], bool]:
    """Which targets a container on the cluster connects to (busybox nc: 0 once connected
    and closed by the peer, 1 when refused or timed out)."""
    script = "; ".join(f"printf x | nc -w 2 {address} {port} >/dev/null 2>&1; "
                       f"echo {address} {port} $?" for address, port in targets)
    out = swarm.docker_cli(pki, api, tmp_path, "run", "--rm", image.NAME, "sh", "-c", script)
    found = {}
    for line in out.splitlines():
        address, port, status = line.split()
        found[(address, int(port))] = status == "0"
    assert set(found) == set(targets), out
    return found


def from_netns(netns: str, address: str, port: int) -> bool:
    """Whether the node itself (its network namespace) connects to ``address:port``."""
    code = ("import socket,sys\n"
            "try:\n"
            f"    socket.create_connection(({address!r}, {port}), timeout=2).close()\n"
            "except OSError:\n"
            "    sys.exit(1)\n")
    return subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "python3", "-c", code],
                          capture_output=True, timeout=30, check=False).returncode == 0


def two_node_spec(**overrides: object) -> ClusterSpec:
    master, worker = make_spec().nodegroups
    return make_spec(nodegroups=(master, replace(worker, node_count=1)), **overrides)


def chain_rules(chain: str) -> list[str]:
    return run("iptables", "-w", "-S", chain).splitlines()


def jumps(bridge: str) -> list[str]:
    return [line for line in run("iptables", "-w", "-S", "INPUT").splitlines()
            if bridge in line.split()]


def test_a_tenant_reaches_only_its_balancer_and_registry(driver: LocalSwarmDriver,
                                                         tmp_path: Path) -> None:
    a = two_node_spec(master_lb_enabled=True, registry_enabled=True)
    b = make_spec(nodegroups=make_spec().nodegroups[:1])
    pki = TinyPKI()
    with stand_in_listener() as port, swarm.cleaned(driver, b.uuid), \
            swarm.cleaned(driver, a.uuid):
        seen_a = swarm.converge(driver, a, pki, timeout=180)
        seen_b = swarm.converge(driver, b, pki, timeout=180)
        assert seen_a.api_address is not None and seen_b.api_address is not None
        allocation_a = network.read_allocation(os.path.join(driver.root, a.uuid))
        allocation_b = network.read_allocation(os.path.join(driver.root, b.uuid))
        assert allocation_a is not None and allocation_b is not None
        gw_a, gw_b = str(allocation_a.gateway), str(allocation_b.gateway)
        assert seen_a.api_address == f"tcp://{gw_a}:2375"  # through the balancer
        uplink, node_b = uplink_address(), seen_b.nodes[0].address
        worker_a = seen_a.nodes[1].address
        assert node_b and worker_a

        # The stand-in service answers the host on every address: refusals are the fence's.
        assert all(connects(address, port) for address in (gw_a, gw_b, uplink))
        # The swarm still forms behind the fence.
        assert swarm.ready_hostnames(pki, seen_a.api_address, tmp_path) == [
            "t-default-master-0", "t-default-worker-0"]

        refused = [(gw_a, port), (uplink, port), (gw_b, port), (gw_a, 5432),
                   (uplink, 5432), (gw_a, 22), (node_b, 2375), (gw_b, registry.PORT)]
        allowed = [(gw_a, registry.PORT), (gw_a, 2375), (worker_a, 2375)]
        seen = probe_from_container(pki, seen_a.api_address, tmp_path, refused + allowed)
        assert [t for t in refused if seen[t]] == []
        assert [t for t in allowed if not seen[t]] == []

        # The node itself (not only its containers) meets the same fence, over IPv4 and 6.
        netns_a = network.netns_name(a.uuid, seen_a.nodes[0].name)
        assert not from_netns(netns_a, gw_a, port)
        assert not from_netns(netns_a, uplink, port)
        assert from_netns(netns_a, gw_a, registry.PORT)
        bridge_a = network.bridge_name(a.uuid)
        with open(f"/proc/sys/net/ipv6/conf/{bridge_a}/disable_ipv6") as handle:
            assert handle.read().strip() == "1"

        # B has neither balancer nor registry: its gateway opens nothing to its nodes.
        seen = probe_from_container(pki, seen_b.api_address, tmp_path,
                                    [(gw_b, 2375), (gw_b, port), (gw_a, registry.PORT)])
        assert not any(seen.values())

        # Applying again changes nothing; after a crash that lost the rules, it converges.
        chain = fence.chain_name(a.uuid)
        before = chain_rules(chain)
        assert len(before) == 1 + 6 and len(jumps(bridge_a)) == 1
        assert driver.apply(a, pki).converged
        assert chain_rules(chain) == before and len(jumps(bridge_a)) == 1
        run("iptables", "-w", "-D", *jumps(bridge_a)[0].split()[1:])
        run("iptables", "-w", "-F", chain)
        assert driver.apply(a, pki).converged
        assert chain_rules(chain) == before and len(jumps(bridge_a)) == 1
        assert not from_netns(netns_a, gw_a, port)

        # Delete takes the chain and every rule naming the bridge; B keeps its fence.
        assert driver.delete(a)
        swarm.assert_nothing_left(driver, a.uuid)
        assert not jumps(bridge_a)
        assert subprocess.run(["iptables", "-w", "-S", chain], capture_output=True,
                              check=False).returncode != 0
        assert len(jumps(network.bridge_name(b.uuid))) == 1
