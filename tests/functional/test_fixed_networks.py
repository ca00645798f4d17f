"""Clusters on a fixed network reach each other; nobody else does (real clusters, real rules).

Two swarm clusters on the private network ``shared`` (``[local_nodes] private_networks``) and
one on its default network: the first two get node addresses inside the network's CIDR and
reach each other's nodes on any port (ping, the engine's TCP port); the default cluster
reaches neither, and they do not reach it, whatever source address a node forges. The host
reaches every node (what ``floating_ip_enabled`` true means here). After delete, no rule of
theirs is left.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

from magna.drivers.local_nodes import engine, network
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.local_swarm import (
    NEEDS_ENGINES,
    TinyPKI,
    assert_nothing_left,
    cleaned,
    converge,
    forward_rules,
    make_spec,
    ping,
)

pytestmark = NEEDS_ENGINES

CIDR = "10.232.0.0/16"
PORT = 9999
# NOTE: collects datagrams until none came for 3 s; "ready" once bound
RECEIVE = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(3)
print("ready", flush=True)
try:
    while True:
        print(s.recv(100).decode(), flush=True)
except TimeoutError:
    pass
"""
SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[4], 0))
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
"""


class _Receiver:
    """A UDP listener inside a node's namespace; ``got``: the payloads that arrived."""

    def __init__(self, netns: str, address: str) -> None:
        self.process = subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{netns}", "python3", "-c", RECEIVE, address,
             str(PORT)], stdout=subprocess.PIPE, text=True)
        self.got: list[str] = []

    def __enter__(self) -> _Receiver:
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        return self

    def __exit__(self, *exc: object) -> None:
        out, _ = self.process.communicate(timeout=30)
        self.got = out.split()


def _send(netns: str, address: str, payload: str, *, source: str = "0.0.0.0") -> None:
    subprocess.run(["nsenter", f"--net=/run/netns/{netns}", "python3", "-c", SEND, address,
                    str(PORT), payload, source], check=True)


def _connects(netns: str | None, address: str, port: int = engine.PORT) -> bool:
    """A TCP connection from ``netns`` (None: the host) to ``address:port`` is accepted."""
    prefix = ["nsenter", f"--net=/run/netns/{netns}"] if netns else []
    probe = (f"import socket; socket.create_connection(({address!r}, {port}), timeout=3)"
             ".close()")
    return subprocess.run([*prefix, "python3", "-c", probe], capture_output=True,
                          check=False).returncode == 0


def test_clusters_on_one_fixed_network_reach_each_other_and_no_one_else(
        tmp_path: Path) -> None:
    driver = LocalSwarmDriver(make_conf(tmp_path / "state",
                                        local_nodes={"private_networks": [f"shared={CIDR}"]}))
    master = make_spec().nodegroups[0]
    a, b = (make_spec(nodegroups=(master,), fixed_network="shared") for _ in range(2))
    c = make_spec(nodegroups=(master,))
    pki = TinyPKI()
    with cleaned(driver, a.uuid), cleaned(driver, b.uuid), cleaned(driver, c.uuid):
        nodes = {spec.uuid: converge(driver, spec, pki).nodes[0] for spec in (a, b, c)}
        addr = {uuid: str(node.address) for uuid, node in nodes.items()}
        ns = {uuid: network.netns_name(uuid, node.name) for uuid, node in nodes.items()}
        shared = ipaddress.IPv4Network(CIDR)
        assert ipaddress.IPv4Address(addr[a.uuid]) in shared
        assert ipaddress.IPv4Address(addr[b.uuid]) in shared
        assert ipaddress.IPv4Address(addr[c.uuid]) not in shared

        for here, there in ((a, b), (b, a)):
            assert ping(ns[here.uuid], addr[there.uuid])
            assert _connects(ns[here.uuid], addr[there.uuid])
        for here, there in ((a, c), (b, c), (c, a), (c, b)):
            assert not ping(ns[here.uuid], addr[there.uuid])
            assert not _connects(ns[here.uuid], addr[there.uuid])
        # a node forging a source address gets nowhere: the default cluster's node posing
        # as a member of the network, a member's node posing as the default cluster's; what
        # arrives is observed at the receiving node (a reply could not tell)
        forged = {c.uuid: "10.232.255.200", a.uuid: "10.231.255.200"}
        for uuid, source in forged.items():
            subprocess.run(["ip", "-n", ns[uuid], "addr", "add", f"{source}/32", "dev",
                            "eth0"], check=True)
        with _Receiver(ns[b.uuid], addr[b.uuid]) as receiver:
            _send(ns[c.uuid], addr[b.uuid], "from-c-forged", source=forged[c.uuid])
            _send(ns[a.uuid], addr[b.uuid], "from-a-forged", source=forged[a.uuid])
            _send(ns[a.uuid], addr[b.uuid], "from-a")
        assert receiver.got == ["from-a"]
        for spec in (a, b, c):  # the host reaches every node
            assert _connects(None, addr[spec.uuid])
        # the default cluster keeps its three rules; the fixed ones have the shared set
        assert len(forward_rules(network.bridge_name(c.uuid))) == 3
        assert len(forward_rules(network.bridge_name(a.uuid))) == 7

        for spec in (a, b, c):
            assert driver.delete(spec)
            assert_nothing_left(driver, spec.uuid)
        assert not forward_rules(CIDR)
