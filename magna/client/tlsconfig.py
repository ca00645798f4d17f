"""What a native client needs to reach a cluster: key, signed certificate, CA and settings.

``new_key_and_csr`` makes the private key here (it never leaves this machine); the server only
signs the CSR. ``plan`` decides, from the cluster and its template, which files to write and
which shell lines to print: ``ca.pem``/``cert.pem``/``key.pem`` plus ``DOCKER_*`` exports for
swarm, a ``config`` kubeconfig plus ``KUBECONFIG`` for kubernetes, and only ``DOCKER_HOST`` (or
a plain kubeconfig) when the template disables TLS. ``write`` refuses to overwrite unless forced.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from magna.client import errors


@dataclass(frozen=True)
class Credentials:
    ca_pem: str
    cert_pem: str
    key_pem: str


@dataclass
class Plan:
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (text, mode)
    exports: list[str] = field(default_factory=list)


def new_key_and_csr(common_name: str = "admin",
                    organization: str = "system:masters") -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


def api_address(cluster: dict[str, Any]) -> str:
    """The address clients connect to; an error while the cluster has none yet."""
    address = cluster.get("api_address")
    if not address:
        raise errors.ClientError(f"Cluster {cluster.get('name')} has no API address yet "
                                 f"(status {cluster.get('status')}).")
    return str(address)


def plan(cluster: dict[str, Any], template: dict[str, Any], directory: str,
         creds: Credentials | None) -> Plan:
    address = api_address(cluster)
    if template.get("coe") == "kubernetes":
        return _kubernetes(cluster, address, directory, creds)
    result = Plan(exports=[f"export DOCKER_HOST={address}"])
    if creds is not None:
        result.files = _pem_files(creds)
        result.exports += [f"export DOCKER_CERT_PATH={directory}", "export DOCKER_TLS_VERIFY=1"]
    return result


def write(directory: str, result: Plan, *, force: bool) -> None:
    os.makedirs(directory, exist_ok=True)
    taken = [n for n in result.files if os.path.exists(os.path.join(directory, n))]
    if taken and not force:
        raise errors.ClientError(f"{', '.join(taken)} already in {directory}; use --force to "
                                 "overwrite.")
    for name, (text, mode) in result.files.items():
        path = os.path.join(directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(path, mode)  # NOTE: an existing file keeps its old mode through O_CREAT


def _pem_files(creds: Credentials) -> dict[str, tuple[str, int]]:
    return {"ca.pem": (creds.ca_pem, 0o644), "cert.pem": (creds.cert_pem, 0o644),
            "key.pem": (creds.key_pem, 0o600)}


def _kubernetes(cluster: dict[str, Any], address: str, directory: str,
                creds: Credentials | None) -> Plan:
    name = str(cluster.get("name") or cluster.get("uuid"))
    server: dict[str, Any] = {"server": address}
    user: dict[str, Any] = {}
    if creds is not None:
        server["certificate-authority-data"] = _b64(creds.ca_pem)
        user = {"client-certificate-data": _b64(creds.cert_pem),
                "client-key-data": _b64(creds.key_pem)}
    config = {"apiVersion": "v1", "kind": "Config", "current-context": name,
              "clusters": [{"name": name, "cluster": server}],
              "users": [{"name": "admin", "user": user}],
              "contexts": [{"name": name, "context": {"cluster": name, "user": "admin"}}]}
    # NOTE: JSON is valid YAML, and kubectl reads either.
    return Plan(files={"config": (json.dumps(config, indent=2) + "\n", 0o600)},
                exports=[f"export KUBECONFIG={os.path.join(directory, 'config')}"])


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
