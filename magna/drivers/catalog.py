"""The catalog a driver exposes: the analog of Glance images, Nova flavors and keypairs, and
Neutron networks on OpenStack. Templates and clusters are validated against it."""

from __future__ import annotations

import abc
import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    """A public key templates name. ``user_id`` is the user who uploaded it (the key is theirs,
    as a Nova keypair is); None for a key the operator or the driver provides, which every user
    may name. ``created_at`` is when it was stored, when the store knows."""

    name: str
    public_key: str
    user_id: str | None = None
    created_at: datetime | None = None


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
        """Store the key and its owner; raise ``Conflict`` when the name is taken."""

    @abc.abstractmethod
    def delete_keypair(self, name: str) -> bool:
        """Remove the key; False when there was none by that name."""

    @property
    def store_id(self) -> str:
        """Stores with the same id hold the same keys (two drivers' catalogs over one
        directory): a key is written to each store once."""
        return f"{type(self).__name__}@{id(self)}"


class KeypairFiles(KeypairStore):
    """A ``KeypairStore`` over a directory of ``<name>.pub`` files (one OpenSSH key each), with
    the uploader's user id in ``<name>.owner`` beside it (none: the operator's key)."""

    def __init__(self, directory: str) -> None:
        self._keypair_dir = directory

    def keypairs(self, project_id: str | None) -> Sequence[Keypair]:
        if not os.path.isdir(self._keypair_dir):
            return ()
        found = []
        for entry in sorted(os.listdir(self._keypair_dir)):
            if entry.endswith(".pub"):
                keypair = self._read(entry[:-4])
                if keypair is not None:
                    found.append(keypair)
        return found

    def _read(self, name: str) -> Keypair | None:
        try:
            with open(self._path(name)) as handle:
                key = handle.read().strip()
                stamp = os.fstat(handle.fileno()).st_mtime
        except FileNotFoundError:  # deleted while listing
            return None
        owner = None
        if os.path.exists(self._owner_path(name)):
            with open(self._owner_path(name)) as handle:
                owner = handle.read().strip() or None
        return Keypair(name=name, public_key=key, user_id=owner,
                       created_at=datetime.fromtimestamp(stamp, UTC))

    @property
    def store_id(self) -> str:
        return f"files:{os.path.realpath(self._keypair_dir)}"

    def add_keypair(self, keypair: Keypair) -> None:
        os.makedirs(self._keypair_dir, mode=0o700, exist_ok=True)
        # NOTE: each file is written aside and link()ed into place, which fails when the name
        # exists: a reader never sees a half-written file, the owner file claims the name for
        # its user before the key appears (a listed key never lacks its owner), and the key
        # file is the second claim, so two uploads of one name cannot both succeed. An owner
        # file a crash left alone in between is its user's to retry.
        if keypair.user_id is not None and not self._place(self._owner_path(keypair.name),
                                                           keypair.user_id):
            with open(self._owner_path(keypair.name)) as handle:
                if handle.read().strip() != keypair.user_id:
                    raise Conflict(f"Key pair '{keypair.name}' already exists.")
        if not self._place(self._path(keypair.name), keypair.public_key.strip()):
            raise Conflict(f"Key pair '{keypair.name}' already exists.")

    def _place(self, path: str, text: str) -> bool:
        """Write ``text`` to ``path`` unless it exists (False then)."""
        fd, staged = tempfile.mkstemp(dir=self._keypair_dir, prefix=".upload-")
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "w") as handle:
                handle.write(text + "\n")
            os.link(staged, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(staged)
        return True

    def delete_keypair(self, name: str) -> bool:
        try:
            os.unlink(self._path(name))
        except FileNotFoundError:
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._owner_path(name))
        return True

    def _path(self, name: str) -> str:
        return os.path.join(self._keypair_dir, f"{name}.pub")

    def _owner_path(self, name: str) -> str:
        return os.path.join(self._keypair_dir, f"{name}.owner")


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
