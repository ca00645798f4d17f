"""Private networks of the local catalog: what a template's ``fixed_network`` and ``fixed_subnet``
name, and the subnet pool a cluster placed on one takes its addresses from.

Upstream, ``fixed_network`` puts a cluster's servers on an existing Neutron network, so
clusters on one network reach each other. Here the operator declares such networks in
``[local_nodes] private_networks``, one IPv4 CIDR (one subnet) each. A cluster on one gets its
per-cluster subnet (the usual bridge, the usual ``subnet_prefix``) carved from the network's
CIDR instead of the driver's ``subnet_pool``, and the FORWARD rules of ``host.bridge_rules``
let clusters of the same network reach each other, and no one else (see ``host.py``). A
cluster naming no fixed network stays alone on its own subnet, as before.

Entry format: ``NAME=CIDR`` (its subnet is ``NAME-subnet``) or ``NAME:SUBNET=CIDR``. Every
network and subnet has a stable id (a UUID derived from its name), so a template may name
either by id or by name, as the OpenStack clients allow. The checks at start (``parse``,
``check_layout``) raise ``ValueError`` naming the option; the checks at the API (``check``)
raise ``NotFound`` (404, upstream's words) or ``PermanentError`` (400).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from magna.common.exceptions import NotFound, PermanentError
from magna.drivers.catalog import Network
from magna.drivers.local_nodes import network

OPTION = "[local_nodes] private_networks"
EXTERNAL = "public"
_IDS = uuid.UUID("6b1f3c1e-8d0a-4f59-a7f2-3c9e2d5b7a10")  # namespace of the derived ids
# NOTE: user-id ranges follow a subnet's number modulo 2**14 (rootfs.id_base); they stay apart
# only while every cluster subnet of one prefix lies within one /(prefix - 14).
_ID_SPAN_BITS = 14


@dataclass(frozen=True)
class PrivateNetwork:
    name: str
    cidr: ipaddress.IPv4Network
    subnet: str  # the name of its one subnet

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_IDS, f"network:{self.name}"))

    @property
    def subnet_id(self) -> str:
        return str(uuid.uuid5(_IDS, f"subnet:{self.name}"))

    def entry(self) -> Network:
        """As the catalog lists it."""
        return Network(id=self.id, name=self.name, external=False)

    def has_subnet(self, ident: str) -> bool:
        """``ident`` names this network's subnet: its id, its name or its CIDR."""
        return ident in (self.subnet_id, self.subnet, str(self.cidr))

    def pool(self, base: network.SubnetPool) -> network.SubnetPool:
        """Where clusters on this network get their subnets (``base``: the driver's pool,
        for the prefix and the words of messages)."""
        return network.SubnetPool(cidr=str(self.cidr), prefix=base.prefix, kind=base.kind,
                                  group=base.group, label=f"fixed network {self.name}",
                                  widen=f"widen its CIDR in {OPTION}")


def parse(entries: Sequence[str]) -> tuple[PrivateNetwork, ...]:
    """The option's entries as networks; ``ValueError`` names the option and a bad entry."""
    found: list[PrivateNetwork] = []
    for entry in (e.strip() for e in entries if e.strip()):
        found.append(_parse_one(entry))
    names = [n.name for n in found] + [n.subnet for n in found]
    for name in names:
        if names.count(name) > 1 or name == EXTERNAL:
            raise ValueError(f"{OPTION}: the name {name!r} is used twice (or is the external "
                             f"network {EXTERNAL!r}); every network and subnet needs its own.")
    for index, first in enumerate(found):
        for second in found[index + 1:]:
            if first.cidr.overlaps(second.cidr):
                raise ValueError(f"{OPTION}: {first.name} ({first.cidr}) and {second.name} "
                                 f"({second.cidr}) overlap.")
    return tuple(found)


def _parse_one(entry: str) -> PrivateNetwork:
    names, sep, cidr = entry.partition("=")
    name, _, subnet = names.strip().partition(":")
    name, subnet = name.strip(), subnet.strip() or f"{name.strip()}-subnet"
    if not sep or not name or not all(c.isalnum() or c in "-_." for c in name + subnet):
        raise ValueError(f"{OPTION} entry {entry!r} is not NAME=CIDR or NAME:SUBNET=CIDR "
                         f"(names of letters, digits, '-', '_', '.').")
    try:
        return PrivateNetwork(name=name, cidr=ipaddress.IPv4Network(cidr.strip()),
                              subnet=subnet)
    except ValueError as exc:
        raise ValueError(f"{OPTION} entry {entry!r}: {exc}") from None


def configured(entries: Sequence[str], pool: network.SubnetPool) -> tuple[PrivateNetwork, ...]:
    """The option's networks, checked against a driver's pool (at the driver's start)."""
    networks = parse(entries)
    check_layout(networks, pool)
    return networks


def check_layout(networks: Sequence[PrivateNetwork], pool: network.SubnetPool) -> None:
    """Every network holds at least one cluster subnet of the driver's prefix, shares no
    address with its pool, and lies in the range that keeps user ids apart."""
    base = ipaddress.IPv4Network(pool.cidr)
    span = max(0, pool.prefix - _ID_SPAN_BITS)
    for net in networks:
        where = f"{OPTION}: {net.name} ({net.cidr})"
        if net.cidr.prefixlen > pool.prefix:
            raise ValueError(f"{where} is smaller than one cluster subnet "
                             f"([{pool.group}] subnet_prefix {pool.prefix}).")
        if net.cidr.overlaps(base):
            raise ValueError(f"{where} overlaps [{pool.group}] subnet_pool {base}.")
        if not net.cidr.subnet_of(base.supernet(new_prefix=min(span, base.prefixlen))):
            raise ValueError(f"{where} must lie within the /{span} of [{pool.group}] "
                             f"subnet_pool {base}, so that clusters' user-id ranges stay "
                             f"apart.")


def find(networks: Sequence[PrivateNetwork], *, fixed_network: str | None,
         fixed_subnet: str | None) -> PrivateNetwork | None:
    """The network a template's ``fixed_network``/``fixed_subnet`` place its clusters on
    (None: neither is set, each cluster alone on its own subnet)."""
    chosen = None
    if fixed_network is not None:
        chosen = next((n for n in networks if fixed_network == n.id), None) or next(
            (n for n in networks if fixed_network == n.name), None)
        if chosen is None:
            if fixed_network == EXTERNAL:
                raise PermanentError(
                    f"fixed_network {EXTERNAL} is the external network (this host); name a "
                    f"private network: {_offered(networks)}.")
            raise NotFound(f"Unable to find fixed network {fixed_network}.")
    if fixed_subnet is not None:
        owner = next((n for n in networks if n.has_subnet(fixed_subnet)), None)
        if owner is None:
            raise NotFound(f"Unable to find fixed subnet {fixed_subnet}.")
        if chosen is not None and owner != chosen:
            raise PermanentError(
                f"fixed_subnet {fixed_subnet} is not a subnet of fixed_network "
                f"{fixed_network}; its subnet is {chosen.subnet} ({chosen.cidr}).")
        chosen = owner
    return chosen


def _offered(networks: Sequence[PrivateNetwork]) -> str:
    if not networks:
        return f"the operator defines none ({OPTION})"
    return ", ".join(f"{n.name} ({n.cidr})" for n in networks)
