"""Validates what a template or cluster names against the enabled drivers' catalogs.

This is the analog of Magnum's Glance/Nova/Neutron checks, with the same 400/404 messages.
"""

from __future__ import annotations

from magna.common.exceptions import Invalid, NotFound
from magna.drivers import catalog
from magna.drivers.base import ClusterType, Driver
from magna.drivers.registry import DriverRegistry


def find_image(registry: DriverRegistry, ident: str) -> catalog.Image:
    for driver in registry.drivers:
        image = catalog.find(driver.catalog.images(), ident)
        if image is not None:
            return image
    raise Invalid(f"Image {ident} could not be found.")


def resolve_driver(registry: DriverRegistry, *, image_id: str, server_type: str,
                   coe: str) -> tuple[Driver, catalog.Image]:
    image = find_image(registry, image_id)
    if not image.os_distro:
        raise Invalid(f"Image {image_id} doesn't contain os_distro field.")
    driver = registry.for_type(ClusterType(server_type, image.os_distro, coe))
    return driver, image


def check_image(driver: Driver, image: str) -> None:
    """An image a nodegroup names must be one of its cluster's driver."""
    if catalog.find(driver.catalog.images(), image) is None:
        raise Invalid(f"Image {image} could not be found.")


def check_flavor(driver: Driver, flavor: str | None) -> None:
    if flavor is not None and catalog.find(driver.catalog.flavors(), flavor) is None:
        raise Invalid(f"Unable to find flavor {flavor}.")


def check_external_network(driver: Driver, network: str | None) -> None:
    if network is None:
        return
    found = catalog.find(driver.catalog.networks(), network)
    if found is None or not found.external:
        raise Invalid(f"Unable to find external network {network}.")


def check_keypair(driver: Driver, keypair: str | None, user_id: str | None) -> None:
    """The cluster's keypair must be the creating user's own, or the operator's (as Nova
    checks it with the user's credentials upstream)."""
    if keypair is None:
        return
    if not any(k.name == keypair and k.user_id in (None, user_id)
               for k in driver.catalog.keypairs(None)):
        raise NotFound(f"Unable to find keypair {keypair}.")
