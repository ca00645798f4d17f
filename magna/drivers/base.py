"""The driver interface as the API sees it.

The API needs two things from a driver: whether it provides a cluster type, and its catalog.
The reconcile operations (validate, apply, delete, observe) and optional abilities (upgrade,
CA rotation) are added with the conductor; they are separate interfaces checked with
``isinstance``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import NamedTuple

from magna.drivers.catalog import Catalog


class ClusterType(NamedTuple):
    server_type: str
    os_distro: str
    coe: str


class Driver(abc.ABC):
    name: str

    @property
    @abc.abstractmethod
    def provides(self) -> Sequence[ClusterType]:
        """The (server_type, os_distro, coe) tuples this driver can build."""

    @property
    @abc.abstractmethod
    def catalog(self) -> Catalog:
        """Images, flavors, networks and keypairs that templates and clusters may name."""

    def supports(self, cluster_type: ClusterType) -> bool:
        return cluster_type in self.provides


class CredentialRotation(abc.ABC):
    """Optional ability: replace the cloud credential a cluster uses (e.g. an application
    credential). The API accepts ``PATCH /v1/credentials/{cluster}`` only for drivers that are
    instances of this class."""

    @abc.abstractmethod
    def rotate_credential(self, cluster_uuid: str) -> None:
        """Issue a new credential for the cluster, hand it to the cluster, revoke the old one.

        Idempotent: called again after a failure, it converges to one valid credential.
        """
