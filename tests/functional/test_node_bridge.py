"""A cluster's bridge keeps its MAC address while nodes join it.

A Linux bridge whose address was never set takes the lowest address among its ports, so a
node added later could change it. Nodes that had already resolved their gateway kept sending
to the old address, which the host drops as not its own, until their ARP entry expired: the
answers to the conductor's calls came 12-50 s late. These tests build the real interfaces (a
bridge, a node's namespace and veth) and add a port whose address is lower than any other.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from magna.drivers.local_nodes import network

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None
                                or shutil.which("busybox") is None,
                                reason="needs root, iproute2 and busybox")

LOWEST = "00:00:00:00:00:01"  # lower than any address the kernel or Magna picks
SUBNET = ipaddress.IPv4Network("10.239.254.0/29")


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True).stdout


def address(name: str) -> str:
    return Path(f"/sys/class/net/{name}/address").read_text().strip()


@pytest.fixture
def names() -> Iterator[tuple[str, str, str]]:
    """A bridge, a node's namespace and its veth, and an extra port, all removed afterwards."""
    short = uuid.uuid4().hex[:8]
    bridge, netns, extra = f"mgb{short}", f"magna-{short}-n0", f"mgx{short}"
    yield bridge, netns, extra
    network.NodeNetwork(netns, f"mgv{short}1", bridge, SUBNET[2],
                        network.Allocation(SUBNET)).delete()
    subprocess.run(["ip", "link", "del", extra], capture_output=True, check=False)
    network.Bridge(bridge, network.Allocation(SUBNET)).delete()


def test_a_port_with_a_lower_address_leaves_the_bridge_address_and_the_nodes_route(
        names: tuple[str, str, str]) -> None:
    bridge_name, netns, extra = names
    allocation = network.Allocation(SUBNET)
    bridge = network.Bridge(bridge_name, allocation)
    bridge.apply()
    node = network.NodeNetwork(netns, f"mgv{bridge_name[3:]}1", bridge_name,
                               allocation.address(1), allocation)
    node.apply()
    assert address(bridge_name) == bridge.mac
    # the node resolves its gateway, as any first packet to the host would
    subprocess.run(["nsenter", f"--net={network.NS_DIR}/{netns}", "busybox", "ping", "-c", "1",
                    "-W", "2", str(allocation.gateway)], check=True, capture_output=True)
    ip("link", "add", extra, "address", LOWEST, "type", "veth", "peer", "name", f"{extra}p")
    ip("link", "set", extra, "master", bridge_name, "up")
    bridge.apply()  # what the next node's build runs again
    assert address(bridge_name) == bridge.mac
    learned = ip("-n", netns, "neigh", "show", str(allocation.gateway)).split()
    assert learned[learned.index("lladdr") + 1] == address(bridge_name)


def test_a_bridge_made_without_an_address_keeps_the_one_it_has(
        names: tuple[str, str, str]) -> None:
    bridge_name, _, extra = names
    ip("link", "add", bridge_name, "type", "bridge")  # as Magna made bridges before
    before = address(bridge_name)
    network.Bridge(bridge_name, network.Allocation(SUBNET)).apply()
    assert address(bridge_name) == before
    assert Path(f"/sys/class/net/{bridge_name}/addr_assign_type").read_text().strip() == "3"
    ip("link", "add", extra, "address", LOWEST, "type", "veth", "peer", "name", f"{extra}p")
    ip("link", "set", extra, "master", bridge_name, "up")
    assert address(bridge_name) == before
