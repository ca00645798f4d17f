"""From database rows to the plain ``ClusterSpec`` a driver sees, and the cluster's PKI.

Drivers never touch the database: they get the desired state as frozen data and a ``ClusterPKI``
that signs CSRs with the cluster's CA (loaded and decrypted once per reconcile pass).
"""

from __future__ import annotations

import datetime as dt

from magna.crypto import x509
from magna.db import models
from magna.domain import clusters as lifecycle
from magna.drivers.base import ClusterSpec, NodeGroupSpec


def build_spec(cluster: models.Cluster, template: models.ClusterTemplate) -> ClusterSpec:
    return ClusterSpec(
        uuid=cluster.uuid, name=cluster.name or cluster.uuid, project_id=cluster.project_id,
        coe=template.coe, generation=cluster.generation, template_uuid=template.uuid,
        image_id=template.image_id, labels=dict(cluster.labels or {}),
        nodegroups=tuple(_nodegroup(ng, cluster.docker_volume_size)
                         for ng in cluster.nodegroups),
        tls_disabled=template.tls_disabled, master_lb_enabled=cluster.master_lb_enabled,
        floating_ip_enabled=cluster.floating_ip_enabled, keypair=cluster.keypair,
        dns_nameserver=template.dns_nameserver, http_proxy=template.http_proxy,
        https_proxy=template.https_proxy, no_proxy=template.no_proxy,
        registry_enabled=template.registry_enabled,
        insecure_registry=template.insecure_registry,
        network_driver=template.network_driver, volume_driver=template.volume_driver,
        docker_volume_size=cluster.docker_volume_size, fixed_network=cluster.fixed_network,
        fixed_subnet=cluster.fixed_subnet, max_batch_size=cluster.max_batch_size or 1,
        docker_storage_driver=template.docker_storage_driver,
        external_network_id=template.external_network_id,
        apiserver_port=template.apiserver_port)


def _nodegroup(ng: models.NodeGroup, cluster_volume: int | None) -> NodeGroupSpec:
    return NodeGroupSpec(
        uuid=ng.uuid, name=ng.name, role=ng.role, node_count=ng.node_count,
        flavor_id=ng.flavor_id, image_id=ng.image_id, labels=dict(ng.labels or {}),
        node_labels=dict(ng.node_labels or {}), node_taints=tuple(ng.node_taints or ()),
        nodes_to_remove=tuple(ng.nodes_to_remove or ()),
        present=ng.desired_state != lifecycle.ABSENT,
        docker_volume_size=ng.docker_volume_size or cluster_volume)


class ClusterCA:
    """The ``ClusterPKI`` handed to drivers: the main CA's certificate, and signing with it."""

    def __init__(self, pair: x509.KeyPair, policy: x509.SigningPolicy, days: int) -> None:
        self._pair = pair
        self._policy = policy
        self._days = days

    @property
    def ca_pem(self) -> str:
        return self._pair.certificate_pem

    def sign(self, csr_pem: str) -> str:
        return x509.sign_csr(csr_pem, ca=self._pair, days=self._days,
                             now=dt.datetime.now(dt.UTC), policy=self._policy)
