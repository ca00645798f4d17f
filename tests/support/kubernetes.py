"""Helpers for tests of real Kubernetes clusters: the built ``kubectl`` with a kubeconfig a user
would get from the cluster's CA, waiting for what the cluster reports, and HTTP from the host.

``kubectl`` is the one built with the cluster's binaries (the host-wide cache), given its own
``--cache-dir`` so no test writes under ``~/.kube``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from magna.common.exceptions import TemporaryError
from magna.crypto import x509
from magna.drivers.base import ClusterPKI
from magna.drivers.local_kubernetes import binaries
from magna.drivers.local_kubernetes.credentials import kubeconfig

T = TypeVar("T")
CACHE = "/var/cache/magna/kubernetes"
BUILD_WAIT = 40 * 60.0


def bin_dir() -> str:
    """The cached binaries of the default version, waiting for a build in progress (CI starts
    it at ``./dev test``) rather than skipping."""
    cache = binaries.Binaries(CACHE, retry_after=600)
    version = binaries.version_of(None, "v1.20.2")
    deadline = time.monotonic() + BUILD_WAIT
    while True:
        try:
            return cache.require(version)
        except TemporaryError:
            if time.monotonic() > deadline:
                raise
            time.sleep(10)


class Kubectl:
    """``kubectl`` as a cluster admin (a certificate the cluster's CA signed for a user)."""

    def __init__(self, pki: ClusterPKI, api_address: str, directory: Path,
                 user: str = "tester", group: str | None = "system:masters") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        key = x509.new_key(2048)
        cert = pki.sign(x509.make_csr(common_name=user, organization=group, key=key))
        (directory / "cert.pem").write_text(cert)
        (directory / "key.pem").write_bytes(x509.key_to_pem(key))
        self.config = directory / "config"
        self.config.write_text(kubeconfig(server=api_address, ca_pem=pki.ca_pem,
                                          cert=str(directory / "cert.pem"),
                                          key=str(directory / "key.pem"), user=user))
        self.cache = directory / "cache"
        self.program = os.path.join(bin_dir(), "kubectl")

    def run(self, *args: str, stdin: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.program, f"--kubeconfig={self.config}", f"--cache-dir={self.cache}",
             "--request-timeout=20s", *args],
            input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def ready_nodes(self) -> list[str]:
        items = self.json("get", "nodes")["items"]
        return sorted(item["metadata"]["name"] for item in items
                      if any(c["type"] == "Ready" and c["status"] == "True"
                             for c in item["status"]["conditions"]))


def eventually(check: Callable[[], T], *, timeout: float, what: str) -> T:
    """The first truthy result of ``check`` within ``timeout`` seconds (errors count as not
    yet); fails saying ``what`` was awaited and the last error."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = result
        except (AssertionError, OSError, subprocess.SubprocessError, ValueError) as exc:
            last = exc
        assert time.monotonic() < deadline, f"waited {timeout:.0f}s for {what}; last: {last!r}"
        time.sleep(0.5)


def http_get(address: str, port: int, timeout: float = 3.0) -> str:
    """A plain HTTP GET of ``/`` from the host; the whole answer."""
    with socket.create_connection((address, port), timeout=timeout) as conn:
        conn.sendall(f"GET / HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


WEB_MANIFEST = """
apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 2
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: magna/busybox:latest
        imagePullPolicy: Never
        command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
"""
