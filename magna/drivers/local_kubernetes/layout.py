"""Where a Kubernetes node keeps its files, as the node sees them and as the host writes them.

Every path here is inside the node's own root (``<node dir>/root`` on the host, ``/`` in the
node). The orchestrator's programs come from the host-wide build cache, bound read-only at
``BIN``; everything else the host writes before the node's agents start: certificates and keys,
kubeconfigs, the pod network's CNI configuration, and the runtime wrapper the engine calls.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

BIN = "/opt/kubernetes/bin"
ETC = "/etc/kubernetes"
PKI = f"{ETC}/pki"
CA = f"{PKI}/ca.pem"
SA_KEY = f"{PKI}/sa-key.pem"
SA_PUB = f"{PKI}/sa-pub.pem"
CNI_CONF_DIR = "/etc/cni/net.d"
CNI_CONF = f"{CNI_CONF_DIR}/10-magna.conflist"
CNI_BIN_DIR = "/usr/lib/cni"
RUNTIME = "/etc/magna/runc"
ETCD_DATA = "/var/lib/etcd"
# NOTE: kubelet's root (emptyDir volumes, pods' files) lives on the node's volume beside the
# engine's data root when the cluster has docker_volume_size: all a pod can write is then
# bounded by the node's disk, as on a machine, instead of reaching the host's.
KUBELET_ROOT = "/var/lib/kubelet"
API_PORT = 6443
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
CLUSTER_DOMAIN = "cluster.local"
PAUSE_IMAGE = "magna/pause:3.2"
# NOTE: Magnum's defaults for its labels flannel_network_cidr, flannel_network_subnetlen and
# service_cluster_ip_range: templates written for upstream give the same addresses here.
POD_CIDR = "10.100.0.0/16"
POD_SUBNET_PREFIX = 24
SERVICE_CIDR = "10.254.0.0/16"


def cert(name: str) -> str:
    return f"{PKI}/{name}-cert.pem"


def key(name: str) -> str:
    return f"{PKI}/{name}-key.pem"


def kubeconfig(component: str) -> str:
    return f"{ETC}/{component}.conf"


def on_host(node_root: str, path: str) -> str:
    """The host path of ``path`` (absolute inside the node) of the node rooted at
    ``node_root``."""
    return node_root + path


@dataclass(frozen=True)
class Addressing:
    """The cluster's pod and service address ranges (from its labels, Magnum's names)."""

    pod_cidr: ipaddress.IPv4Network
    pod_prefix: int
    service_cidr: ipaddress.IPv4Network

    def pod_subnet(self, slot: int) -> ipaddress.IPv4Network:
        """The pod subnet of the node in ``slot`` (slots are stable while a node exists)."""
        return list(self.pod_cidr.subnets(new_prefix=self.pod_prefix))[slot]

    @property
    def api_service_ip(self) -> str:
        """The cluster IP of the ``kubernetes`` service (the range's first address)."""
        return str(self.service_cidr.network_address + 1)

    @property
    def node_room(self) -> int:
        return int(2 ** (self.pod_prefix - self.pod_cidr.prefixlen))
