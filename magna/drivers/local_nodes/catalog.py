"""What local nodes can be, as templates name it: node images, flavors, networks, keypairs.

It belongs to the node layer because every one of these describes a node, not the orchestrator
on it: a driver of any COE built from local nodes offers the same catalog.

Networks: ``public`` is the external network, this host, from which every node's address is
reached; the private ones are the operator's (``private_networks.py``), for ``fixed_network``.
Flavors become real limits on each node's engine (vCPU and memory cgroup limits). Images describe
the node OS and engine; every node runs the host's Docker Engine in its own namespaces. Keypairs
are public keys in ``<state_dir>/keypairs/<name>.pub``; the catalog is a ``KeypairStore``, so
``/v1/keypairs`` (``magna keypair-create``) writes and removes those files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from magna.drivers.catalog import Flavor, Image, KeypairFiles, Network

IMAGES = (
    Image(id="9a1d3c52-6f0e-4d5b-9d0a-1f2f6b3a5c01", name="debian-12-docker",
          os_distro="debian", properties={"docker_engine": "docker.io (Debian 12)"}),
    # NOTE: the original Magnum guides name Fedora Atomic images; this alias lets their
    # walk-throughs run unchanged. The node is the same local engine either way.
    Image(id="5e2b7a94-0c3d-4f61-8b27-6d9e0a4c7f12", name="fedora-atomic-latest",
          os_distro="fedora-atomic", properties={"docker_engine": "docker.io (Debian 12)"}),
    # NOTE: the distros upstream Magnum's Kubernetes drivers accept, so templates written for
    # upstream (--image fedora-coreos-latest) work unchanged; again the same local node.
    Image(id="0c6f4e1a-8d2b-4a37-9e55-3b1d7f9a2c61", name="fedora-coreos-latest",
          os_distro="fedora-coreos", properties={"docker_engine": "docker.io (Debian 12)"}),
    Image(id="7d3a9b10-5e4c-4f2a-8c61-2e9f0b7a4d83", name="ubuntu-22.04",
          os_distro="ubuntu", properties={"docker_engine": "docker.io (Debian 12)"}),
)

FLAVORS = (
    Flavor(id="1", name="m1.tiny", vcpus=1, ram_mb=512, disk_gb=1),
    Flavor(id="2", name="m1.small", vcpus=1, ram_mb=2048, disk_gb=20),
    Flavor(id="3", name="m1.medium", vcpus=2, ram_mb=4096, disk_gb=40),
    Flavor(id="4", name="m1.large", vcpus=2, ram_mb=8192, disk_gb=80),
)

NETWORKS = (
    Network(id="3f0c9a8e-2b1d-4e6f-9a7c-5d4b3e2a1f00", name="public", external=True),
)


class LocalCatalog(KeypairFiles):
    def __init__(self, state_dir: str, private: Sequence[Network] = ()) -> None:
        super().__init__(os.path.join(state_dir, "keypairs"))
        self._networks = (*NETWORKS, *private)

    def images(self) -> Sequence[Image]:
        return IMAGES

    def flavors(self) -> Sequence[Flavor]:
        return FLAVORS

    def networks(self) -> Sequence[Network]:
        """``public`` (this host), then the operator's private networks
        (``[local_nodes] private_networks``, ``private_networks.py``)."""
        return self._networks
