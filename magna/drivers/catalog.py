"""The catalog a driver exposes: the analog of Glance images, Nova flavors and keypairs, and
Neutron networks on OpenStack. Templates and clusters are validated against it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    os_distro: str | None
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    external: bool


@dataclass(frozen=True)
class Keypair:
    name: str
    public_key: str


class Catalog(Protocol):
    def images(self) -> Sequence[Image]: ...
    def flavors(self) -> Sequence[Flavor]: ...
    def networks(self) -> Sequence[Network]: ...
    def keypairs(self, project_id: str | None) -> Sequence[Keypair]: ...


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", Image, Flavor, Network)


def find(items: Sequence[T], ident: str) -> T | None:
    """Find by id first, then by name, as the OpenStack clients do."""
    for item in items:
        if item.id == ident:
            return item
    for item in items:
        if item.name == ident:
            return item
    return None
