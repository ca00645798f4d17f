"""What a cluster's nodes may reach on the host: the fence on the cluster's bridge.

Packets a node (or any container on it) sends to the host arrive on the cluster's bridge and
meet the host's INPUT chain, whatever address they are sent to: the bridge's own (the gateway),
the host's uplink, loopback-bound services seen through another address, even another cluster's
gateway. Without a fence every service the host binds to ``0.0.0.0`` (PostgreSQL, RabbitMQ,
Magna's API, SSH) answers a tenant's container. The FORWARD rules of ``host.bridge_rules`` keep
clusters apart and keep traffic from leaving the bridge; they never see traffic *to* the host.

So every cluster bridge gets one chain in the host's network namespace (which no node process
can change), jumped to from INPUT for packets arriving on that bridge::

    -A INPUT -i mgb<short> -j magna-in-<short>
    -A magna-in-<short> -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    -A magna-in-<short> -d <gateway>/32 -p icmp --icmp-type echo-request -j ACCEPT
    -A magna-in-<short> -d <address>/32 -p tcp --dport <port> -j ACCEPT    (each opening)
    -A magna-in-<short> -p tcp -j REJECT --reject-with tcp-reset
    -A magna-in-<short> -j REJECT --reject-with icmp-admin-prohibited

The first rule lets in the replies to the host's own connections to the nodes (the conductor,
HAProxy's health checks). ``openings`` (pure) says what else the cluster needs from the host:
its load balancer and its registry on the gateway, a DNS server or proxy of its template when
that is an address of this host the operator lists in ``host_services``. Everything else is
rejected, not dropped, so a client fails at once. IPv6 is switched off on the bridge: with it,
a node reaches the host's ``[::]`` listeners through the bridge's link-local address (seen on
this kernel), and one ip6tables rule drops what IPv6 might still arrive on the bridge.

``Fence.apply`` is idempotent and converges from any partial state (it rewrites the chain in one
``iptables-restore`` transaction); ``remove`` works from the cluster id alone.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from magna.drivers.base import ClusterSpec
from magna.drivers.local_nodes import balancer, engine, host, network, registry

# NOTE: how Go's net/http (dockerd, the proxies' only user here) completes a proxy URL.
PROXY_PORTS = {"http": 80, "https": 443, "socks5": 1080}
DNS_PORT = 53
IPV6 = "/proc/sys/net/ipv6"


def chain_name(cluster_uuid: str) -> str:
    """17 characters; iptables allows 28."""
    return f"magna-in-{network.short_id(cluster_uuid)}"


@dataclass(frozen=True, order=True)
class Opening:
    """One service of the host a cluster's nodes may connect to."""

    address: str
    protocol: str  # "tcp" or "udp"
    port: int


def openings(spec: ClusterSpec, *, gateway: str, host_addresses: Collection[str],
             host_services: Collection[tuple[str, int]] = (),
             api_port: int = engine.PORT) -> tuple[Opening, ...]:
    """What the cluster's nodes need from the host, in a stable order.

    A DNS server or proxy of the template is opened only when it is an address of this host
    AND the operator lists it (``host_services``, address and port): template fields are
    user input, and without that list whoever writes a template could open any port of the
    host (PostgreSQL on the uplink, say) to their own cluster by calling it a proxy. Anything
    beyond this host needs no opening here (FORWARD rejects all traffic leaving the bridge
    anyway). A proxy given by name is not resolved: the address a name stands for may change
    after the rule is written."""
    local = {gateway, *host_addresses}
    allowed = set(host_services)
    found = set()
    if balancer.balanced(spec):
        found.add(Opening(gateway, "tcp", api_port))
    if spec.registry_enabled:
        found.add(Opening(gateway, "tcp", registry.PORT))
    if spec.dns_nameserver in local and (spec.dns_nameserver, DNS_PORT) in allowed:
        found |= {Opening(spec.dns_nameserver, proto, DNS_PORT) for proto in ("tcp", "udp")}
    for proxy in (spec.http_proxy, spec.https_proxy):
        target = proxy_target(proxy) if proxy else None
        if target is not None and target[0] in local and target in allowed:
            found.add(Opening(target[0], "tcp", target[1]))
    return tuple(sorted(found))


def parse_host_services(entries: Collection[str]) -> frozenset[tuple[str, int]]:
    """``[group] host_services`` entries (``address:port``) as pairs; ValueError names a bad
    one."""
    found = set()
    for entry in entries:
        address, _, port = entry.strip().rpartition(":")
        try:
            found.add((str(ipaddress.IPv4Address(address)), int(port)))
        except ValueError:
            raise ValueError(f"host_services entry {entry!r} is not an IPv4 address:port") \
                from None
    return frozenset(found)


def proxy_target(url: str) -> tuple[str, int] | None:
    """The IPv4 address and port a proxy URL connects to; None for a name or a bad URL."""
    text = url.strip()
    parts = urlsplit(text if "://" in text else f"http://{text}")
    try:
        port = parts.port
        address = str(ipaddress.IPv4Address(parts.hostname or ""))
    except ValueError:
        return None
    return address, port or PROXY_PORTS.get(parts.scheme.lower(), PROXY_PORTS["http"])


@dataclass(frozen=True)
class Fence:
    bridge: str
    chain: str
    gateway: str
    openings: tuple[Opening, ...]

    def build(self) -> list[list[str]]:
        """The chain's rules, in order (each without ``-A <chain>``)."""
        allowed = [["-d", f"{o.address}/32", "-p", o.protocol, "-m", o.protocol,
                    "--dport", str(o.port), "-j", "ACCEPT"] for o in self.openings]
        return [["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
                # NOTE: a ping to the gateway answers, as it always did (diagnostics, tests)
                ["-d", f"{self.gateway}/32", "-p", "icmp", "-m", "icmp", "--icmp-type",
                 "echo-request", "-j", "ACCEPT"],
                *allowed,
                ["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
                ["-j", "REJECT", "--reject-with", "icmp-admin-prohibited"]]

    def jump(self) -> list[str]:
        return ["INPUT", "-i", self.bridge, "-j", self.chain]

    def apply(self) -> None:
        """The chain holds ``build()``, INPUT jumps to it, the bridge has no IPv6."""
        host.replace_chain(self.chain, self.build())
        host.ensure_rule("iptables", self.jump())
        if os.path.isdir(IPV6):  # NOTE: a kernel without IPv6 has nothing to fence there
            with open(f"{IPV6}/conf/{self.bridge}/disable_ipv6", "w") as handle:
                handle.write("1\n")
            host.ensure_rule("ip6tables", ["INPUT", "-i", self.bridge, "-j", "DROP"])


def fence_of(spec: ClusterSpec, allocation: network.Allocation,
             host_services: Collection[tuple[str, int]] = (), api_port: int = engine.PORT
             ) -> Fence:
    gateway = str(allocation.gateway)
    return Fence(bridge=network.bridge_name(spec.uuid), chain=chain_name(spec.uuid),
                 gateway=gateway, openings=openings(spec, gateway=gateway,
                                                    host_addresses=network.host_addresses(),
                                                    host_services=host_services,
                                                    api_port=api_port))


def remove(cluster_uuid: str) -> None:
    """The cluster's chain and every rule naming it or its bridge (idempotent)."""
    host.delete_rules_mentioning(network.bridge_name(cluster_uuid))
    host.delete_chain(chain_name(cluster_uuid))
