"""The pod network: flannel's host-gw data path, done natively (``network_driver=flannel``).

Each node owns one pod subnet (``Addressing.pod_subnet(slot)``: a /24 of 10.100.0.0/16 unless the
template's labels say otherwise). Its pods hang off a bridge ``cni0`` in the node's network
namespace (the CNI ``bridge`` plugin with ``host-local`` addresses from that subnet, written by
``conflist`` before kubelet starts, so nothing waits for the controller manager to allocate
ranges). Between nodes there is no overlay: every node's namespace has a route to every other
node's pod subnet through that node's address on the cluster bridge, exactly what flannel's
host-gw backend installs. Traffic from pods to anything outside the pod range leaves with the
node's address (one MASQUERADE rule per node), so the host, the registry and the API server see
node addresses only.

``apply`` is idempotent (``ip route replace``, ``iptables -C`` before ``-A``) and runs in the
node's network namespace from the host; nothing here changes the host's own network.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Sequence

from magna.drivers.local_kubernetes.layout import Addressing
from magna.drivers.local_nodes import host, network

BRIDGE = "cni0"


def conflist(subnet: ipaddress.IPv4Network) -> str:
    """The node's CNI network configuration list."""
    return json.dumps({
        "cniVersion": "0.4.0", "name": "magna-pods",
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": str(subnet)}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }, indent=1) + "\n"


def routes(addressing: Addressing, me: int, peers: Sequence[tuple[int, str]]
           ) -> list[tuple[str, str]]:
    """(pod subnet, via address) for every other node: ``peers`` are (slot, address)."""
    return [(str(addressing.pod_subnet(slot)), address) for slot, address in peers
            if slot != me]


def apply(netns: str, addressing: Addressing, own: ipaddress.IPv4Network,
          via: Sequence[tuple[str, str]]) -> None:
    """Forwarding, the routes to the other nodes' pods (stale ones removed) and the masquerade
    rule, in the node's network namespace."""
    enter = ("nsenter", f"--net={os.path.join(network.NS_DIR, netns)}")
    host.run(*enter, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
    wanted = dict(via)
    for subnet, address in wanted.items():
        host.run(*enter, "ip", "route", "replace", subnet, "via", address, "dev", "eth0")
    for line in host.run(*enter, "ip", "-4", "route", "show", "dev", "eth0").splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] == "via" and fields[0] not in wanted \
                and fields[0] != "default":
            with_prefix = ipaddress.IPv4Network(fields[0], strict=False)
            if with_prefix.subnet_of(addressing.pod_cidr) and with_prefix != own:
                host.run(*enter, "ip", "route", "del", fields[0])
    rule = ("POSTROUTING", "-s", str(addressing.pod_cidr), "!", "-d", str(addressing.pod_cidr),
            "-j", "MASQUERADE")
    if not host.probe(*enter, "iptables", "-w", "-t", "nat", "-C", *rule):
        host.run(*enter, "iptables", "-w", "-t", "nat", "-A", *rule)
