"""The FORWARD rules of cluster bridges decide every packet the same way in any order.

Every rule is inserted first in ``FORWARD`` (``host.ForwardRule.apply``), so after a crash or
a concurrent apply the rules of all bridges may stand in any order. This models iptables'
matching of ``-i/-o/-s/-d`` (with ``!`` and the ``+`` wildcard) over the rules of four clusters
(two on one fixed network, one on another, one on none) and every packet the host could route
between them and its uplink, and checks that the rules that match never disagree, and that the
verdict is the one the reachability rules promise (docs/local-driver.md, Networks).
"""

from __future__ import annotations

import ipaddress
import itertools

from magna.drivers.local_nodes import host

NET_N = ipaddress.IPv4Network("10.232.0.0/16")
NET_M = ipaddress.IPv4Network("10.233.0.0/16")
# bridge -> (its subnet, the fixed network it is on)
BRIDGES = {
    "mgbaaaaaaaa": (ipaddress.IPv4Network("10.232.1.0/24"), NET_N),
    "mgbbbbbbbbb": (ipaddress.IPv4Network("10.232.2.0/24"), NET_N),
    "mgbcccccccc": (ipaddress.IPv4Network("10.233.1.0/24"), NET_M),
    "mgbdddddddd": (ipaddress.IPv4Network("10.231.7.0/24"), None),
}
UPLINK = "eth0"
ADDRESSES = ["10.232.1.5", "10.232.2.5", "10.232.9.9", "10.233.1.5", "10.231.7.5",
             "192.0.2.7"]


def _rules() -> list[list[str]]:
    return [rule.build() for bridge, (_, net) in BRIDGES.items()
            for rule in host.bridge_rules(bridge, net)]


def _interface(word: str, value: str) -> bool:
    return value.startswith(word[:-1]) if word.endswith("+") else value == word


def _matches(rule: list[str], packet: dict[str, str]) -> bool:
    """``rule`` (FORWARD, then a match, then ``-j TARGET``) matches ``packet``."""
    words, index, negate = rule[1:], 0, False
    while index < len(words):
        word = words[index]
        if word == "!":
            negate, index = True, index + 1
            continue
        if word == "-j":
            return True
        value = words[index + 1]
        if word in ("-i", "-o"):
            hit = _interface(value, packet[word])
        else:
            hit = ipaddress.IPv4Address(packet[word]) in ipaddress.IPv4Network(value)
        if hit == negate:
            return False
        negate, index = False, index + 2
    return True


def _route(address: str) -> str:
    """The interface the host sends ``address`` out of."""
    found = [b for b, (subnet, _) in BRIDGES.items() if ipaddress.IPv4Address(address) in subnet]
    return found[0] if found else UPLINK


def _expected(packet: dict[str, str]) -> bool:
    """The promise: inside a cluster, or between two clusters of one fixed network with
    their own (in-network) addresses; nothing else."""
    into, out = packet["-i"], packet["-o"]
    if into == out:
        return True
    if into not in BRIDGES or out not in BRIDGES:
        return False
    net_in, net_out = BRIDGES[into][1], BRIDGES[out][1]
    return (net_in is not None and net_in == net_out
            and ipaddress.IPv4Address(packet["-s"]) in net_in)


def test_every_routed_packet_has_one_verdict_whatever_the_order() -> None:
    rules, checked = _rules(), 0
    for into, source, dest in itertools.product([*BRIDGES, UPLINK], ADDRESSES, ADDRESSES):
        packet = {"-i": into, "-o": _route(dest), "-s": source, "-d": dest}
        if into == UPLINK and packet["-o"] == UPLINK:
            continue  # not ours: the host's own forwarding
        verdicts = {rule[-1] for rule in rules if _matches(rule, packet)}
        accepted = verdicts == {"ACCEPT"}
        assert verdicts and (accepted or "ACCEPT" not in verdicts), (packet, verdicts)
        assert accepted == _expected(packet), (packet, verdicts)
        checked += 1
    assert checked > 100


def test_a_cluster_on_no_network_keeps_its_three_rules() -> None:
    assert [rule.build()[1:] for rule in host.bridge_rules("mgbdddddddd")] == [
        ["-i", "mgbdddddddd", "-o", "mgbdddddddd", "-j", "ACCEPT"],
        ["-i", "mgbdddddddd", "!", "-o", "mgbdddddddd", "-j", "REJECT"],
        ["-o", "mgbdddddddd", "!", "-i", "mgbdddddddd", "-j", "DROP"]]
