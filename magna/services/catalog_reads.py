"""The images and flavors of the enabled drivers' catalogs, for the Glance and Nova subsets
(``api/resources/image.py``, ``compute.py``): what ``openstack image list`` and ``openstack
flavor list`` show on a Magna-only cloud, and what templates may name.

Each catalog is merged by id, the first enabled driver's entry winning (as ``keypairs`` merges
by name), so an id answers one image or flavor. Any authenticated user may read them, as
Glance's and Nova's default policies let every user list public images and flavors; all of
Magna's are public.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from magna.common.exceptions import NotFound
from magna.drivers.catalog import Catalog, Flavor, Image
from magna.services import Services

_Entry = TypeVar("_Entry", Image, Flavor)


def _distinct(svc: Services, read: Callable[[Catalog], Sequence[_Entry]]) -> list[_Entry]:
    """What the enabled drivers' catalogs hold, each id once (the first driver's wins)."""
    found: dict[str, _Entry] = {}
    for driver in svc.drivers.drivers:
        for entry in read(driver.catalog):
            found.setdefault(entry.id, entry)
    return list(found.values())


def images(svc: Services) -> list[Image]:
    return _distinct(svc, lambda catalog: catalog.images())


def image(svc: Services, ident: str) -> Image:
    """By id only, as Glance (clients look names up by listing)."""
    for candidate in images(svc):
        if candidate.id == ident:
            return candidate
    raise NotFound(f"No image found with ID {ident}")


def flavors(svc: Services) -> list[Flavor]:
    return _distinct(svc, lambda catalog: catalog.flavors())


def flavor(svc: Services, ident: str) -> Flavor:
    """By id only, as Nova (clients look names up by listing)."""
    for candidate in flavors(svc):
        if candidate.id == ident:
            return candidate
    raise NotFound(f"Flavor {ident} could not be found.")
