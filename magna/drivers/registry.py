"""Loads the enabled drivers from entry points and finds the one for a cluster type."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import entry_points

from oslo_config import cfg

from magna.common.exceptions import Invalid, MagnaError
from magna.drivers.base import ClusterType, Driver

GROUP = "magna.drivers"


class DriverRegistry:
    def __init__(self, drivers: Sequence[Driver]) -> None:
        self.drivers = list(drivers)

    @classmethod
    def from_config(cls, conf: cfg.ConfigOpts) -> DriverRegistry:
        available = {ep.name: ep for ep in entry_points(group=GROUP)}
        drivers = []
        for name in conf.drivers.enabled_drivers:
            if name not in available:
                raise MagnaError(f"Driver {name} is enabled but not installed; installed: "
                                 f"{', '.join(sorted(available)) or 'none'}.")
            drivers.append(available[name].load()(conf))
        return cls(drivers)

    def for_type(self, cluster_type: ClusterType) -> Driver:
        for driver in self.drivers:
            if driver.supports(cluster_type):
                return driver
        raise Invalid(f"Cluster type ({cluster_type.server_type}, {cluster_type.os_distro}, "
                      f"{cluster_type.coe}) not supported.")
