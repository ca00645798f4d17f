"""The local Swarm-mode driver (entry point ``local-swarm``)."""

from __future__ import annotations

from collections.abc import Sequence

from oslo_config import cfg

from magna.drivers.base import ClusterType, Driver
from magna.drivers.catalog import Catalog
from magna.drivers.local_swarm.catalog import IMAGES, LocalCatalog


class LocalSwarmDriver(Driver):
    name = "local-swarm"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._catalog = LocalCatalog(conf.state_dir)

    @property
    def provides(self) -> Sequence[ClusterType]:
        distros = sorted({image.os_distro for image in IMAGES if image.os_distro})
        return [ClusterType(server, distro, "swarm-mode")
                for server in ("vm", "bm") for distro in distros]

    @property
    def catalog(self) -> Catalog:
        return self._catalog
