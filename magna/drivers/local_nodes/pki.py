"""Certificates on disk: the driver's client certificate per cluster, a server certificate per node.

Both are issued by the cluster's CA through ``ClusterPKI.sign`` (the same CSR filter users go
through). The client certificate (CN=admin, O=system:masters) is how the driver itself talks to
the engines over TLS; each node's server certificate names the node's IP, 127.0.0.1 and its
hostname (and a manager's also the master load balancer's address). Their keys are EC P-256
(``x509.new_ec_key``): an RSA key per node was a tenth of a second of every node's build. A
certificate is kept while it was issued by the current CA (its signature checked) for the same
names and is not about to expire, so a second apply signs nothing (an RSA key made before stays);
after a CA rotation every file is replaced. Private keys are written mode 0600.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature

from magna.common import files
from magna.crypto import x509
from magna.drivers.base import ClusterPKI

# RSA key size where RSA is still used (the Kubernetes driver's service-account key).
KEY_SIZE = 2048
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class CertFiles:
    """``ca.pem``, ``<prefix>cert.pem`` and ``<prefix>key.pem`` in one directory."""

    directory: str
    prefix: str

    @property
    def ca(self) -> str:
        return os.path.join(self.directory, "ca.pem")

    @property
    def cert(self) -> str:
        return os.path.join(self.directory, f"{self.prefix}cert.pem")

    @property
    def key(self) -> str:
        return os.path.join(self.directory, f"{self.prefix}key.pem")

    def digest(self) -> str:
        sha = hashlib.sha256()
        for path in (self.ca, self.cert):
            with open(path, "rb") as handle:
                sha.update(handle.read())
        return sha.hexdigest()


@dataclass(frozen=True)
class CertRequest:
    common_name: str
    organization: str | None
    client: bool
    sans: Sequence[str] = ()


def client_files(cluster_dir: str) -> CertFiles:
    return CertFiles(os.path.join(cluster_dir, "client"), "")


def server_files(node_dir: str) -> CertFiles:
    return CertFiles(node_dir, "server-")


def admin_request() -> CertRequest:
    return CertRequest(common_name="admin", organization="system:masters", client=True)


def server_request(hostname: str, address: str, *extra: str) -> CertRequest:
    """A node's server certificate; ``extra`` names more addresses it is reached at (the
    master load balancer's, since TLS passes through it)."""
    return CertRequest(common_name=hostname, organization=None, client=False,
                       sans=(address, "127.0.0.1", hostname, *extra))


def ensure(files: CertFiles, request: CertRequest, pki: ClusterPKI) -> bool:
    """Make ``files`` hold a valid certificate for ``request``; True if anything was written."""
    if _current(files, request, pki.ca_pem):
        return False
    key = x509.new_ec_key()
    csr = x509.make_csr(common_name=request.common_name, organization=request.organization,
                        key=key, client=request.client, sans=request.sans)
    cert = pki.sign(csr)
    os.makedirs(files.directory, mode=0o700, exist_ok=True)
    _write(files.key, x509.key_to_pem(key), 0o600)
    _write(files.cert, cert.encode(), 0o644)
    _write(files.ca, pki.ca_pem.encode(), 0o644)
    return True


def _current(files: CertFiles, request: CertRequest, ca_pem: str) -> bool:
    try:
        with open(files.ca) as handle:
            if handle.read() != ca_pem:
                return False
        with open(files.cert, "rb") as handle:
            cert = cx509.load_pem_x509_certificate(handle.read())
        if not os.path.exists(files.key):
            return False
        # NOTE: several certificates may share one ca.pem (a Kubernetes node's): the first
        # replaced after a rotation writes the new CA, so the others must be checked against it.
        cert.verify_directly_issued_by(cx509.load_pem_x509_certificate(ca_pem.encode()))
    except (FileNotFoundError, ValueError, TypeError, InvalidSignature):
        return False
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    remaining = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    fresh = remaining > min(RENEW_BEFORE, lifetime / 5)
    return fresh and _sans(cert) == sorted(request.sans)


def _sans(cert: cx509.Certificate) -> list[str]:
    try:
        names = cert.extensions.get_extension_for_class(cx509.SubjectAlternativeName).value
    except cx509.ExtensionNotFound:
        return []
    return sorted(str(name.value) for name in names)


def _write(path: str, data: bytes, mode: int) -> None:
    files.replace(path, data, mode)
