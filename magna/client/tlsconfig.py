"""What a native client needs to reach a cluster: key, signed certificate, CA and settings.

``new_key_and_csr`` makes the private key here (it never leaves this machine); the server only
signs the CSR. ``plan`` decides, from the cluster and its template, which files to write and
which shell lines to print: ``ca.pem``/``cert.pem``/``key.pem`` plus ``DOCKER_*`` exports for
swarm, a ``config`` kubeconfig plus ``KUBECONFIG`` for kubernetes, and only ``DOCKER_HOST`` (or
a plain kubeconfig) when the template disables TLS. ``write`` refuses to overwrite unless forced.

``reused`` makes a second run useful: ``eval "$(magna cluster-config NAME)"`` in a directory
that already holds this cluster's credentials (issued by its current CA, unexpired, for its
current address) prints the exports again without signing anything; files that are not this
cluster's are an error rather than a silent empty output.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
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


def reused(directory: str, cluster: dict[str, Any], template: dict[str, Any],
           ca_pem: str) -> Plan | None:
    """The exports alone when ``directory`` holds this cluster's credentials; None when it holds
    none of the files; ``ClientError`` when it holds files that are not (another cluster's, or
    from before a CA rotation)."""
    address = api_address(cluster)
    kubernetes = template.get("coe") == "kubernetes"
    names = ("config",) if kubernetes else tuple(_pem_files(Credentials("", "", "")))
    present = [name for name in names if os.path.exists(os.path.join(directory, name))]
    if not present:
        return None
    try:
        creds = _read_kubeconfig(directory, address) if kubernetes else _read_pems(directory)
        _check_issued(creds, ca_pem)
    except (OSError, ValueError, KeyError, TypeError, IndexError, InvalidSignature):
        raise errors.ClientError(
            f"{', '.join(present)} in {directory} are not credentials for cluster "
            f"{cluster.get('name')} (another cluster's, or from before a CA rotation); use "
            "--force to replace them, or another --dir.") from None
    return Plan(exports=plan(cluster, template, directory, creds).exports)


def _read_pems(directory: str) -> Credentials:
    def text(name: str) -> str:
        with open(os.path.join(directory, name)) as handle:
            return handle.read()
    return Credentials(ca_pem=text("ca.pem"), cert_pem=text("cert.pem"),
                       key_pem=text("key.pem"))


def _read_kubeconfig(directory: str, address: str) -> Credentials:
    with open(os.path.join(directory, "config")) as handle:
        config = json.load(handle)
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    if cluster["server"] != address:
        raise ValueError("another address")
    return Credentials(ca_pem=_unb64(cluster["certificate-authority-data"]),
                       cert_pem=_unb64(user["client-certificate-data"]),
                       key_pem=_unb64(user["client-key-data"]))


def _check_issued(creds: Credentials, ca_pem: str) -> None:
    """``ValueError`` unless the files hold the cluster's current CA and a certificate it
    issued, unexpired, for the key beside it."""
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    cert = x509.load_pem_x509_certificate(creds.cert_pem.encode())
    key = serialization.load_pem_private_key(creds.key_pem.encode(), None)
    if x509.load_pem_x509_certificate(creds.ca_pem.encode()) != ca:
        raise ValueError("another CA")
    cert.verify_directly_issued_by(ca)
    if cert.public_key() != key.public_key():
        raise ValueError("another key")
    if cert.not_valid_after_utc <= dt.datetime.now(dt.UTC):
        raise ValueError("expired")


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


def _unb64(text: str) -> str:
    return base64.b64decode(text.encode()).decode()
