"""Containers on real local engines, from a test's side: an image, a user's certificates, the SDK.

Nothing is ever pulled: ``busybox_tar`` is a root filesystem made here from the host's static
busybox, which a test imports into each node's engine as ``IMAGE``; ``SLEEPER`` is a command
that greets and then waits until it is stopped. ``ApiSigner`` is the cluster's CA as a user
reaches it (``POST /v1/certificates``), for the client certificate ``engine`` connects with.
The container tests on local clusters (``test_containers_local.py``, ``test_swarm_strategy.py``)
and the Kubernetes object tests share them.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
from collections.abc import Iterator

import docker

from magna.drivers.local_nodes import pki
from magna.drivers.local_swarm import swarm
from tests.support.conductor import Stack

IMAGE = "magna-test/busybox:latest"
SLEEPER = "trap 'exit 0' TERM; echo hello-$GREETING; sleep 3600 & wait"


def busybox_tar() -> bytes:
    """A root filesystem of one static busybox and a symlink per applet."""
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
    return buffer.getvalue()


class ApiSigner:
    """The cluster's CA as a user reaches it: ``POST /v1/certificates``."""

    def __init__(self, stack: Stack, cluster_uuid: str) -> None:
        self.stack, self.cluster_uuid = stack, cluster_uuid
        self.ca_pem = stack.api.get(f"/v1/certificates/{cluster_uuid}").json()["pem"]

    def sign(self, csr_pem: str) -> str:
        response = self.stack.api.post("/v1/certificates", json={
            "cluster_uuid": self.cluster_uuid, "csr": csr_pem})
        assert response.status_code == 201, response.text
        pem: str = response.json()["pem"]
        return pem


@contextlib.contextmanager
def engine(files: pki.CertFiles, address: str) -> Iterator[docker.DockerClient]:
    client = swarm.connect(address, files, 60)
    try:
        yield client
    finally:
        client.close()
