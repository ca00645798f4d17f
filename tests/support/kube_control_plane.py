"""A real Kubernetes 1.20 control plane for tests: Debian's etcd and the cached kube-apiserver.

Both listen on free loopback ports; etcd keeps its data, and the API server its certificates,
in the test's temporary directory. The certificates come from ``magna.crypto.x509``: a CA, a
serving certificate for 127.0.0.1, an admin client certificate (O=system:masters) and a
service-account key pair. The API server runs with the admission settings the driver uses
(``admission.API_SERVER_FLAGS``: PodSecurityPolicy on, privileged pods off), RBAC, and no
insecure port. On request a kube-controller-manager runs chosen controllers (the tests that
need controllers creating pods; the others want no node lifecycle or garbage collector acting
on their hand-made nodes and pods). Every process is stopped by pid when the context ends.

The Kubernetes binaries come from the host-wide cache the driver's build fills
(``magna/drivers/local_kubernetes/build.sh``); a build still running is waited for (up to
``BUILD_WAIT`` seconds), because a test that skipped meanwhile would prove nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from magna.crypto import x509
from magna.drivers.local_kubernetes import admission
from magna.drivers.local_kubernetes.kubeapi import Access, KubeAPI
from tests.support.server import free_port

VERSION = "1.20.2"
CACHE = Path("/var/cache/magna/kubernetes") / VERSION
ETCD = "/usr/bin/etcd"
BUILD_WAIT = 40 * 60.0
START_WAIT = 90.0
SERVICE_RANGE = "10.254.0.0/24"
SIGNING = x509.SigningPolicy(
    allowed_extensions=["keyUsage", "extendedKeyUsage", "subjectAltName", "basicConstraints"],
    allowed_key_usage=["Digital Signature", "Key Encipherment"])


class ControlPlaneError(RuntimeError):
    """The control plane could not be started (the message says where its log is)."""


@dataclass(frozen=True)
class ControlPlane:
    access: Access
    directory: Path
    kubectl: Path

    def client(self) -> KubeAPI:
        return KubeAPI(self.access)

    def user(self, name: str, group: str | None = None) -> Access:
        """Access as another user (a client certificate from the same CA)."""
        issue(self.directory, f"user-{name}", name, group)
        return replace(self.access, cert_file=str(self.directory / f"user-{name}-cert.pem"),
                       key_file=str(self.directory / f"user-{name}-key.pem"))


def wait_for_build(built: Path = CACHE / "BUILT", wait: float = BUILD_WAIT) -> Path:
    """The cache's ``bin`` directory once the build finished; ControlPlaneError after ``wait``."""
    deadline = time.monotonic() + wait
    while not built.exists():
        if time.monotonic() > deadline:
            progress = built.parent.with_suffix(".progress")
            said = progress.read_text().strip() if progress.exists() else "no build under way"
            raise ControlPlaneError(f"no Kubernetes build in {built.parent} after {wait:.0f} s "
                                    f"({said})")
        time.sleep(10)
    return built.parent / "bin"


def _write_certificates(directory: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca = x509.generate_ca("magna-test-kubernetes", key_size=2048, days=2, now=now)
    (directory / "ca.pem").write_text(ca.certificate_pem)
    _write_private(directory / "ca-key.pem", ca.private_key_pem)
    issue(directory, "server", "kube-apiserver", None, client=False,
          sans=["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "10.254.0.1"])
    issue(directory, "admin", "admin", "system:masters")
    signer = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(directory / "sa-key.pem", x509.key_to_pem(signer))
    (directory / "sa-pub.pem").write_bytes(signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def issue(directory: Path, prefix: str, name: str, organization: str | None, *,
          client: bool = True, sans: Sequence[str] = ()) -> None:
    """``<prefix>-cert.pem`` and ``<prefix>-key.pem`` signed by the CA in ``directory``."""
    ca = x509.KeyPair((directory / "ca.pem").read_text(), (directory / "ca-key.pem").read_bytes())
    key = x509.new_key(2048)
    csr = x509.make_csr(common_name=name, organization=organization, key=key, client=client,
                        sans=sans)
    (directory / f"{prefix}-cert.pem").write_text(
        x509.sign_csr(csr, ca=ca, days=2, now=dt.datetime.now(dt.UTC), policy=SIGNING))
    _write_private(directory / f"{prefix}-key.pem", x509.key_to_pem(key))


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _etcd_args(directory: Path, client_port: int, peer_port: int) -> list[str]:
    client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    return [ETCD, "--name", "test", "--data-dir", str(directory / "etcd"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"test={peer}", "--initial-cluster-state", "new"]


def _apiserver_args(binary: Path, directory: Path, etcd_port: int, port: int) -> list[str]:
    return [str(binary), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={port}", "--insecure-port=0", f"--cert-dir={directory}",
            f"--tls-cert-file={directory / 'server-cert.pem'}",
            f"--tls-private-key-file={directory / 'server-key.pem'}",
            f"--client-ca-file={directory / 'ca.pem'}", "--anonymous-auth=false",
            f"--service-account-key-file={directory / 'sa-pub.pem'}",
            f"--service-account-signing-key-file={directory / 'sa-key.pem'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-cluster-ip-range={SERVICE_RANGE}", "--authorization-mode=Node,RBAC",
            "--profiling=false", *admission.API_SERVER_FLAGS]


def _controller_manager_args(binary: Path, directory: Path, server: str,
                             controllers: Sequence[str]) -> list[str]:
    issue(directory, "controller-manager", "system:kube-controller-manager", None)
    kubeconfig = directory / "controller-manager.kubeconfig"
    # NOTE: JSON is YAML: a kubeconfig needs no YAML library.
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {
            "server": server, "certificate-authority": str(directory / "ca.pem")}}],
        "users": [{"name": "controller-manager", "user": {
            "client-certificate": str(directory / "controller-manager-cert.pem"),
            "client-key": str(directory / "controller-manager-key.pem")}}],
        "contexts": [{"name": "test", "context": {"cluster": "test",
                                                  "user": "controller-manager"}}]}))
    return [str(binary), f"--kubeconfig={kubeconfig}", "--leader-elect=false", "--port=0",
            "--secure-port=0", "--use-service-account-credentials=true",
            f"--service-account-private-key-file={directory / 'sa-key.pem'}",
            f"--root-ca-file={directory / 'ca.pem'}", f"--controllers={','.join(controllers)}"]


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as handle:
        return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ControlPlaneError(f"exited ({process.returncode}); see {log}")
        if ready():
            return
        time.sleep(0.2)
    raise ControlPlaneError(f"not ready after {START_WAIT:.0f} s; see {log}")


def _etcd_healthy(port: int) -> bool:
    with contextlib.suppress(requests.RequestException):
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok
    return False


@contextlib.contextmanager
def kube_control_plane(directory: Path, controllers: Sequence[str] = ()
                       ) -> Iterator[ControlPlane]:
    """etcd and kube-apiserver running for the length of the ``with`` block, and
    kube-controller-manager running ``controllers`` when some are named."""
    if not os.access(ETCD, os.X_OK):
        raise ControlPlaneError(f"{ETCD} is missing: install Debian's etcd-server")
    binaries = wait_for_build()
    directory.mkdir(parents=True, exist_ok=True)
    _write_certificates(directory)
    etcd_port, apiserver_port = free_port(), free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        etcd = _start(_etcd_args(directory, etcd_port, free_port()), directory / "etcd.log")
        processes.append(etcd)
        _wait_until(lambda: _etcd_healthy(etcd_port), etcd, directory / "etcd.log")
        apiserver = _start(_apiserver_args(binaries / "kube-apiserver", directory, etcd_port,
                                           apiserver_port), directory / "kube-apiserver.log")
        processes.append(apiserver)
        access = Access(server=f"https://127.0.0.1:{apiserver_port}",
                        ca_file=str(directory / "ca.pem"),
                        cert_file=str(directory / "admin-cert.pem"),
                        key_file=str(directory / "admin-key.pem"), timeout=10.0)
        with KubeAPI(access) as probe:
            _wait_until(probe.healthy, apiserver, directory / "kube-apiserver.log")
        if controllers:
            processes.append(_start(_controller_manager_args(
                binaries / "kube-controller-manager", directory, access.server, controllers),
                directory / "kube-controller-manager.log"))
        yield ControlPlane(access=access, directory=directory, kubectl=binaries / "kubectl")
    finally:
        for process in reversed(processes):
            _stop(process)
        shutil.rmtree(directory / "etcd", ignore_errors=True)
