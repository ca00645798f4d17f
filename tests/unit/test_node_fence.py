"""The fence's contents are a pure function of the cluster's spec: what the nodes may reach on
the host (load balancer, registry, a DNS server or proxy of the template on a host address)."""

from __future__ import annotations

import uuid

import pytest

from magna.drivers.base import ClusterSpec
from magna.drivers.local_nodes.fence import (
    Fence,
    Opening,
    chain_name,
    openings,
    parse_host_services,
    proxy_target,
)

GATEWAY = "10.231.1.1"
HOST = ("127.0.0.1", "192.0.2.2", GATEWAY, "10.231.2.1")


def spec(**overrides: object) -> ClusterSpec:
    fields: dict[str, object] = dict(
        uuid=str(uuid.uuid4()), name="t", project_id="p", coe="swarm-mode", generation=1,
        template_uuid="tpl", image_id="debian-12-docker", labels={}, nodegroups=())
    fields.update(overrides)
    return ClusterSpec(**fields)  # type: ignore[arg-type]


SERVICES = frozenset({("192.0.2.2", 53), ("192.0.2.2", 3128), (GATEWAY, 8443)})


def opened(services: frozenset[tuple[str, int]] = SERVICES,
           **overrides: object) -> tuple[Opening, ...]:
    return openings(spec(**overrides), gateway=GATEWAY, host_addresses=HOST,
                    host_services=services)


def test_a_plain_cluster_needs_nothing_of_the_host() -> None:
    assert opened() == ()


@pytest.mark.parametrize(("lb", "reg", "ports"), [
    (True, False, [2375]), (False, True, [5000]), (True, True, [2375, 5000])])
def test_balancer_and_registry_open_their_ports_on_the_gateway(lb: bool, reg: bool,
                                                               ports: list[int]) -> None:
    assert opened(master_lb_enabled=lb, registry_enabled=reg) == tuple(
        Opening(GATEWAY, "tcp", port) for port in ports)


def test_dns_is_opened_only_on_a_host_address() -> None:
    assert opened(dns_nameserver="192.0.2.2") == (
        Opening("192.0.2.2", "tcp", 53), Opening("192.0.2.2", "udp", 53))
    assert opened(dns_nameserver="8.8.8.8") == ()


def test_proxies_on_host_addresses_open_exactly_their_port() -> None:
    assert opened(http_proxy="http://192.0.2.2:3128", https_proxy="10.231.1.1:8443") == (
        Opening(GATEWAY, "tcp", 8443), Opening("192.0.2.2", "tcp", 3128))
    assert opened(http_proxy="http://198.51.100.7:3128") == ()  # beyond the host: FORWARD's
    assert opened(http_proxy="http://proxy.example:3128") == ()  # names are not resolved


@pytest.mark.parametrize(("url", "target"), [
    ("http://192.0.2.2:3128", ("192.0.2.2", 3128)), ("192.0.2.2:3128", ("192.0.2.2", 3128)),
    ("http://192.0.2.2", ("192.0.2.2", 80)), ("https://192.0.2.2/", ("192.0.2.2", 443)),
    ("socks5://user:pw@192.0.2.2", ("192.0.2.2", 1080)), ("proxy.example:3128", None),
    ("http://192.0.2.2:99999", None), ("http://[2001:db8::1]:3128", None), ("", None)])
def test_proxy_target(url: str, target: tuple[str, int] | None) -> None:
    assert proxy_target(url) == target


def test_the_chain_accepts_replies_and_openings_then_rejects() -> None:
    fence = Fence(bridge="mgbabcd1234", chain="magna-in-abcd1234", gateway=GATEWAY,
                  openings=(Opening(GATEWAY, "tcp", 5000),))
    rules = [" ".join(rule) for rule in fence.build()]
    assert rules == [
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-d {GATEWAY}/32 -p icmp -m icmp --icmp-type echo-request -j ACCEPT",
        f"-d {GATEWAY}/32 -p tcp -m tcp --dport 5000 -j ACCEPT",
        "-p tcp -j REJECT --reject-with tcp-reset",
        "-j REJECT --reject-with icmp-admin-prohibited"]
    assert fence.jump() == ["INPUT", "-i", "mgbabcd1234", "-j", "magna-in-abcd1234"]


def test_chain_names_fit_iptables() -> None:
    name = chain_name(str(uuid.uuid4()))
    assert name.startswith("magna-in-") and len(name) <= 28


def test_only_host_services_the_operator_lists_are_opened() -> None:
    """A template is user input: a proxy or DNS server on a host address the operator did not
    list opens nothing (else any template could open PostgreSQL's port by calling it a
    proxy)."""
    assert opened(http_proxy="http://192.0.2.2:5432") == ()
    assert opened(dns_nameserver="192.0.2.2", services=frozenset()) == ()
    assert opened(http_proxy="http://192.0.2.2:3128", services=frozenset()) == ()


def test_host_services_are_parsed_or_refused() -> None:
    assert parse_host_services(["192.0.2.2:3128", " 10.0.0.1:53"]) == {
        ("192.0.2.2", 3128), ("10.0.0.1", 53)}
    with pytest.raises(ValueError, match=r"proxy\.example:3128"):
        parse_host_services(["proxy.example:3128"])
