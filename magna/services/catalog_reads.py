"""The images and flavors of the enabled drivers' catalogs, for the Glance and Nova subsets
(``api/resources/image.py``, ``compute.py``): what ``openstack image list`` and ``openstack
flavor list`` show on a Magna-only cloud, and what templates may name.

Each catalog is merged by id, the first enabled driver's entry winning (as ``keypairs`` merges
by name), so an id answers one image or flavor. Any authenticated user may read them, as
Glance's and Nova's default policies let every user list public images and flavors; all of
Magna's are public.
"""

from __future__ import annotations

from magna.common.exceptions import NotFound
from magna.drivers.catalog import Flavor, Image
from magna.services import Services


def images(svc: Services) -> list[Image]:
    found: dict[str, Image] = {}
    for driver in svc.drivers.drivers:
        for image in driver.catalog.images():
            found.setdefault(image.id, image)
    return list(found.values())


def image(svc: Services, ident: str) -> Image:
    """By id only, as Glance (clients look names up by listing)."""
    for candidate in images(svc):
        if candidate.id == ident:
            return candidate
    raise NotFound(f"No image found with ID {ident}")


def flavors(svc: Services) -> list[Flavor]:
    found: dict[str, Flavor] = {}
    for driver in svc.drivers.drivers:
        for flavor in driver.catalog.flavors():
            found.setdefault(flavor.id, flavor)
    return list(found.values())


def flavor(svc: Services, ident: str) -> Flavor:
    """By id only, as Nova (clients look names up by listing)."""
    for candidate in flavors(svc):
        if candidate.id == ident:
            return candidate
    raise NotFound(f"Flavor {ident} could not be found.")
