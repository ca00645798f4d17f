"""Every Kubernetes credential of a node, issued by the cluster's CA, and the kubeconfigs.

As Magnum does, the cluster's one CA (``ClusterPKI``) signs everything: the API server's serving
certificate, the client certificates of the control plane, each kubelet (its client identity
``system:node:<hostname>`` in ``system:nodes``, and its serving certificate), kube-proxy, the
API server's own clients to etcd and the kubelets, and etcd's serving/peer certificate. The
service-account signing key pair is the cluster's own (not a certificate), made once in
``<cluster dir>/kubernetes/`` and copied to every master.

``plan`` (pure) says which certificates a node needs; ``write`` issues them through
``local_nodes.pki.ensure`` (kept while current, replaced after a CA rotation) into the node's
``/etc/kubernetes/pki`` and writes the kubeconfigs its agents read. ``kubeconfig`` (pure) is the
document: JSON, which every Kubernetes client reads as YAML.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from magna.crypto import x509
from magna.drivers.base import ClusterPKI
from magna.drivers.local_kubernetes import agents, layout
from magna.drivers.local_nodes import pki, rootfs
from magna.drivers.local_nodes.pki import CertRequest

SA_DIRECTORY = "kubernetes"


@dataclass(frozen=True)
class Issued:
    """One certificate a node holds: the file name under ``PKI`` and what it certifies."""

    name: str
    request: CertRequest


def plan(*, hostname: str, address: str, master: bool, api_names: Sequence[str]
         ) -> list[Issued]:
    """The certificates of one node; ``api_names`` are the extra names of the API server (its
    service IP, the load balancer's address)."""
    node = [
        Issued("kubelet-client", CertRequest(f"system:node:{hostname}", "system:nodes",
                                             client=True)),
        Issued("kubelet-server", CertRequest(hostname, None, client=False,
                                             sans=(address, hostname))),
        Issued("kube-proxy", CertRequest("system:kube-proxy", None, client=True)),
    ]
    if not master:
        return node
    sans = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
            f"kubernetes.default.svc.{layout.CLUSTER_DOMAIN}", address, "127.0.0.1", hostname,
            *api_names)
    return [*node,
            Issued("apiserver", CertRequest("kube-apiserver", None, client=False, sans=sans)),
            Issued("apiserver-kubelet-client",
                   CertRequest("kube-apiserver-kubelet-client", "system:masters", client=True)),
            Issued("controller-manager",
                   CertRequest("system:kube-controller-manager", None, client=True)),
            Issued("scheduler", CertRequest("system:kube-scheduler", None, client=True)),
            Issued("etcd", CertRequest(hostname, None, client=False,
                                       sans=(address, "127.0.0.1", hostname)))]


def kubeconfig(*, server: str, ca_pem: str, cert: str, key: str, user: str) -> str:
    """A kubeconfig naming certificate files (paths as its reader sees them)."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "cluster", "cluster": {
            "server": server,
            "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode()}}],
        "users": [{"name": user, "user": {"client-certificate": cert, "client-key": key}}],
        "contexts": [{"name": "default", "context": {"cluster": "cluster", "user": user}}],
        "current-context": "default",
    }, indent=1) + "\n"


# NOTE: which certificate each agent's kubeconfig names, and which API server address it uses:
# the control plane talks to its own master's API server, node agents to the cluster's API.
KUBECONFIGS = {
    agents.KUBELET: ("kubelet-client", False),
    agents.KUBE_PROXY: ("kube-proxy", False),
    agents.CONTROLLER_MANAGER: ("controller-manager", True),
    agents.SCHEDULER: ("scheduler", True),
}


def write(node_root: str, issued: Sequence[Issued], pki_: ClusterPKI, *, master: bool,
          api_server: str, sa_dir: str) -> str:
    """Issue (or keep) the node's certificates and write its kubeconfigs and, on a master, the
    service-account keys; a digest of it all, so agents restart when any of it changed."""
    directory = layout.on_host(node_root, layout.PKI)
    digests = []
    for item in issued:
        files = pki.CertFiles(directory, f"{item.name}-")
        pki.ensure(files, item.request, pki_)
        digests.append(files.digest())
    for component, (name, local) in KUBECONFIGS.items():
        if local and not master:
            continue
        server = f"https://127.0.0.1:{layout.API_PORT}" if local else api_server
        rootfs.write(layout.on_host(node_root, layout.kubeconfig(component)), kubeconfig(
            server=server, ca_pem=pki_.ca_pem, cert=layout.cert(name), key=layout.key(name),
            user=component).encode(), 0o600)
    if master:
        key_pem, pub_pem = service_account_keys(sa_dir)
        rootfs.write(layout.on_host(node_root, layout.SA_KEY), key_pem, 0o600)
        rootfs.write(layout.on_host(node_root, layout.SA_PUB), pub_pem, 0o644)
        digests.append(pub_pem.decode())
    return "|".join([api_server, *digests])


def service_account_keys(sa_dir: str) -> tuple[bytes, bytes]:
    """The cluster's service-account signing key pair (made on first use, kept after)."""
    key_path = os.path.join(sa_dir, "sa-key.pem")
    pub_path = os.path.join(sa_dir, "sa-pub.pem")
    if not (os.path.exists(key_path) and os.path.exists(pub_path)):
        os.makedirs(sa_dir, mode=0o700, exist_ok=True)
        private = x509.new_key(pki.KEY_SIZE)
        rootfs.write(key_path, x509.key_to_pem(private), 0o600)
        rootfs.write(pub_path, _public_pem(private), 0o644)
    with open(key_path, "rb") as handle:
        key_pem = handle.read()
    with open(pub_path, "rb") as handle:
        return key_pem, handle.read()


def _public_pem(private: rsa.RSAPrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
