"""The local Swarm-mode driver (entry point ``local-swarm``).

NOTE: building nodes (network namespaces with their own dockerd) is the next piece of work.
Until then ``apply`` fails permanently with a reason that says so, which is the truth a user
should see, and ``delete`` has nothing to remove.
"""

from __future__ import annotations

from collections.abc import Sequence

from oslo_config import cfg

from magna.common.exceptions import PermanentError
from magna.drivers.base import ClusterPKI, ClusterSpec, ClusterType, Driver, Observed
from magna.drivers.catalog import Catalog
from magna.drivers.local_swarm.catalog import IMAGES, LocalCatalog

NOT_YET = ("The local Swarm driver cannot build nodes yet: provisioning arrives with the local "
           "driver work. Nothing was created.")


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

    def apply(self, spec: ClusterSpec, pki: ClusterPKI) -> Observed:
        raise PermanentError(NOT_YET)

    def delete(self, spec: ClusterSpec) -> bool:
        return True

    def observe(self, spec: ClusterSpec, pki: ClusterPKI) -> Observed:
        return Observed(converged=False)
