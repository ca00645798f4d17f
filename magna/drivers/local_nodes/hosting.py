"""What every driver built on local nodes does the same way, whatever its orchestrator.

A COE driver on local nodes holds a ``LocalNodes`` (``self.nodes``) and inherits from
``OnLocalNodes`` the parts of the driver contract that are the node layer's alone: removing a
cluster (and telling whether anything is left), the size check, finding leftovers of clusters
without a row and collecting them, and the nodes that exist for a spec.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

from magna.common.exceptions import PermanentError, TemporaryError
from magna.drivers.base import ClusterSpec, ClusterType, Settings
from magna.drivers.catalog import Catalog
from magna.drivers.local_nodes import host
from magna.drivers.local_nodes import settings as node_settings
from magna.drivers.local_nodes.catalog import IMAGES, LocalCatalog
from magna.drivers.local_nodes.cluster import LocalNodes
from magna.drivers.local_nodes.node import LocalNode

SERVER_TYPE = "vm"


def check_network_driver(asked: str | None, offered: str, *, kind: str) -> None:
    """The one network driver a local COE driver implements (None: the template's default,
    which the API fills in from the configuration)."""
    if asked is not None and asked != offered:
        raise PermanentError(f"network_driver {asked} is not available on the {kind} driver; "
                             f"it implements {offered} only.")


class OnLocalNodes:
    """Mixin for a ``Driver`` (and ``GarbageCollecting``) whose clusters are local nodes."""

    nodes: LocalNodes
    coe: str  # what the driver's clusters run
    _catalog: LocalCatalog

    @property
    def provides(self) -> Sequence[ClusterType]:
        """Every node image of the local catalog, for the driver's COE, on server type ``vm``.

        NOTE: a local node is a set of namespaces sharing this host's kernel, which is what a
        virtual machine is to its guest far more than what bare metal is; ``bm`` would promise
        a machine of its own, so it is refused (the driver registry's 400 names the type)."""
        distros = sorted({image.os_distro for image in IMAGES if image.os_distro})
        return [ClusterType(SERVER_TYPE, distro, self.coe) for distro in distros]

    def check_settings(self, settings: Settings) -> None:
        node_settings.check(settings, self.nodes.settings)
        self.check_coe_settings(settings)

    @abc.abstractmethod
    def check_coe_settings(self, settings: Settings) -> None:
        """The orchestrator's half of ``check_settings`` (its network driver, its labels)."""

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def delete(self, spec: ClusterSpec) -> bool:
        """Everything the cluster owns on this host goes; True once nothing is left."""
        try:
            self.nodes.remove(spec.uuid)
        except host.CommandFailed as exc:
            # NOTE: e.g. a namespace still busy; every step is idempotent, so try again.
            raise TemporaryError(f"Removing the cluster is not finished: {exc}",
                                 delay=5.0) from None
        return not self.nodes.exists(spec.uuid)

    def check_masters(self, spec: ClusterSpec, *, kind: str, coe: str, quorum: str) -> None:
        """The spec is of this driver's COE, with an odd number of masters (``quorum`` names
        what keeps it: etcd's, raft's)."""
        if spec.coe != coe:
            raise PermanentError(f"The {kind} driver builds {coe} clusters, not {spec.coe}.")
        masters = spec.nodegroup("master")
        if masters is None or masters.node_count < 1:
            raise PermanentError(f"A {coe} cluster needs at least one master.")
        if masters.node_count % 2 == 0:
            raise PermanentError(f"{masters.node_count} masters cannot keep {quorum} quorum "
                                 f"better than {masters.node_count - 1}; use an odd number.")

    def check_size(self, nodes: int) -> None:
        self.nodes.check_size(nodes)

    def leftovers(self, known_clusters: set[str]) -> list[str]:
        """Clusters in our state dir without a row, and clusters of any state dir on this host
        whose state dir is gone but whose namespaces and bridge remain (``teardown.py``)."""
        return self.nodes.leftovers(known_clusters)

    def collect(self, cluster_uuid: str) -> None:
        self.nodes.remove(cluster_uuid)

    def _members(self, spec: ClusterSpec) -> list[LocalNode]:
        """The nodes that exist for ``spec`` (none before its subnet is allocated)."""
        allocation = self.nodes.allocation(spec.uuid)
        return [] if allocation is None else self.nodes.planned(spec, allocation)
