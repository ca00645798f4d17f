"""What each container orchestration engine accepts: network and volume drivers, server types.

The rules follow Magnum 17.x, the last release that served swarm-mode, combined with the 23.0.0
wire format (see ``shared/spec/magnum-api.md`` section 11).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from magna.common.exceptions import Invalid

COES = ("kubernetes", "swarm-mode")
SERVER_TYPES = ("vm", "bm")


@dataclass(frozen=True)
class CoeRules:
    network_drivers: tuple[str, ...]
    volume_drivers: tuple[str, ...]


# NOTE: the volume drivers are Magnum's names for each COE; a driver without the storage
# service behind them refuses them in ``check_settings`` (local nodes: ``storage.py``).
RULES = {
    "kubernetes": CoeRules(network_drivers=("flannel", "calico"), volume_drivers=("cinder",)),
    "swarm-mode": CoeRules(network_drivers=("docker", "flannel"), volume_drivers=("rexray",)),
}


def validate_template(*, coe: str, server_type: str, network_driver: str | None,
                      volume_driver: str | None, allowed_network_drivers: Sequence[str],
                      default_network_driver: str) -> str:
    """Check the COE-specific fields; return the network driver to store (default filled in)."""
    rules = RULES[coe]
    if server_type not in SERVER_TYPES:
        raise Invalid(f"Server type {server_type} is not supported, expecting a "
                      f"{'/'.join(SERVER_TYPES)} server type.")
    driver = network_driver or default_network_driver
    expecting = "/".join((*rules.network_drivers, "unspecified"))
    if driver not in rules.network_drivers:
        raise Invalid(f"Network driver type {driver} is not supported, expecting a {expecting} "
                      "network driver.")
    if "all" not in allowed_network_drivers and driver not in allowed_network_drivers:
        allowed = "/".join((*allowed_network_drivers, "unspecified"))
        raise Invalid(f"Network driver type {driver} is not allowed, expecting a {allowed} "
                      "network driver.")
    if volume_driver and volume_driver not in rules.volume_drivers:
        expecting = "/".join((*rules.volume_drivers, "unspecified"))
        raise Invalid(f"Volume driver type {volume_driver} is not supported, expecting a "
                      f"{expecting} volume driver.")
    return driver


def validate_docker_volume_size(storage_driver: str | None, size: int | None) -> None:
    if storage_driver == "devicemapper" and size is not None and size < 3:
        raise Invalid(f"docker volume size {size} GB is not valid, expecting minimum value 3GB "
                      "for devicemapper storage driver.")


def validate_dns_nameserver(value: str | None) -> None:
    if value is None:
        return
    import ipaddress

    try:
        for part in value.split(","):
            ipaddress.IPv4Address(part.strip())
    except ValueError:
        raise Invalid("Expected a single dns address or comma separated dns list, but "
                      f"received {value}.") from None
