"""The catalog a driver exposes: the analog of Glance images, Nova flavors and keypairs, and
Neutron networks on OpenStack. Templates and clusters are validated against it."""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from magna.common.exceptions import Conflict


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


class KeypairStore(abc.ABC):
    """Optional ability of a catalog: it stores public keys users upload (``/v1/keypairs``).

    A catalog without it only lists the keypairs it finds (as Nova's would be, upstream).
    """

    @abc.abstractmethod
    def add_keypair(self, keypair: Keypair) -> None:
        """Store the key; raise ``Conflict`` when the name is taken."""

    @abc.abstractmethod
    def delete_keypair(self, name: str) -> bool:
        """Remove the key; False when there was none by that name."""

    @property
    def store_id(self) -> str:
        """Stores with the same id hold the same keys (two drivers' catalogs over one
        directory): a key is written to each store once."""
        return f"{type(self).__name__}@{id(self)}"


class KeypairFiles(KeypairStore):
    """A ``KeypairStore`` over a directory of ``<name>.pub`` files (one OpenSSH key each)."""

    def __init__(self, directory: str) -> None:
        self._keypair_dir = directory

    def keypairs(self, project_id: str | None) -> Sequence[Keypair]:
        if not os.path.isdir(self._keypair_dir):
            return ()
        found = []
        for entry in sorted(os.listdir(self._keypair_dir)):
            if entry.endswith(".pub"):
                with open(os.path.join(self._keypair_dir, entry)) as handle:
                    found.append(Keypair(name=entry[:-4], public_key=handle.read().strip()))
        return found

    @property
    def store_id(self) -> str:
        return f"files:{os.path.realpath(self._keypair_dir)}"

    def add_keypair(self, keypair: Keypair) -> None:
        os.makedirs(self._keypair_dir, mode=0o700, exist_ok=True)
        try:
            # NOTE: O_EXCL makes the name check and the write one step, so two uploads of the
            # same name cannot both succeed.
            fd = os.open(self._path(keypair.name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise Conflict(f"Key pair '{keypair.name}' already exists.") from None
        with os.fdopen(fd, "w") as handle:
            handle.write(keypair.public_key.strip() + "\n")

    def delete_keypair(self, name: str) -> bool:
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            return False
        return True

    def _path(self, name: str) -> str:
        return os.path.join(self._keypair_dir, f"{name}.pub")


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
