"""The README's ``magna`` walk-through (the original guides' commands), run as written against a
real ``magna serve`` on the default local Swarm driver, ending with the stock ``docker`` CLI
listing the nodes over TLS."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import httpx
import pytest
from cryptography import x509

from tests.support import kubernetes
from tests.support.server import magna_server

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = "## Walk-through with `magna` (the original Magnum guides)"


def walkthrough() -> str:
    section = (ROOT / "README.md").read_text().split(HEADER, 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README has a magna walk-through shell block"
    return match.group(1)


@pytest.mark.docker
def test_readme_magna_walkthrough_runs(tmp_path: pathlib.Path) -> None:
    script = walkthrough()
    for command in ("keypair-create", "baymodel-create", "bay-create", "bay-list", "bay-show",
                    "bay-update swarmbay replace node_count=2", "ca-show", "ca-sign",
                    "cluster-config", "docker node ls", "bay-delete", "ssh -i testkey",
                    "sudo docker ps"):
        assert command in script, command
    with magna_server(str(tmp_path / "state")) as server:
        body = script.replace("http://127.0.0.1:9511", server.url)
        env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}:"
               f"{os.environ['PATH']}"}
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=600)
        remaining = httpx.get(server.endpoint + "/clusters", timeout=30).json()["clusters"]
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"\| swarmbay \|\s+1 \|\s+1 \| CREATE_COMPLETE", out), out
    assert "swarmbay: CREATE_COMPLETE  nodes 2/2" in result.stderr, result.stderr
    assert "swarmbay: UPDATE_COMPLETE  nodes 3/3" in result.stderr, result.stderr
    assert "swarmbay: DELETE_COMPLETE" in result.stderr, result.stderr
    assert out.count(" Ready ") == 3, out
    assert "CONTAINER ID" in out, out  # `sudo docker ps` on the node, logged in with the key
    assert remaining == []
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    mine = x509.load_pem_x509_certificate((tmp_path / "me-cert.pem").read_bytes())
    mine.verify_directly_issued_by(ca)
    assert mine.subject.rfc4514_string() == "CN=me"
    certs = tmp_path / "swarmbay-certs"
    assert (certs / "key.pem").stat().st_mode & 0o777 == 0o600
    assert x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes()) == ca


K8S_HEADER = "## The guides' Kubernetes walk-through with `magna`"


@pytest.mark.docker
@pytest.mark.kubernetes
def test_readme_guides_kubernetes_walkthrough_runs(tmp_path: pathlib.Path) -> None:
    """A Kubernetes bay, the redis example through pod-create, coe-service-create and
    rc-create, an rc-update, each list/show agreeing with kubectl, and the bay deleted."""
    kubernetes.bin_dir()  # waits for a build in progress (CI starts it at ./dev test)
    section = (ROOT / "README.md").read_text().split(K8S_HEADER, 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README has the guides' Kubernetes walk-through"
    script = match.group(1)
    for command in ("baymodel-create", "--coe kubernetes", "bay-create", "pod-create",
                    "coe-service-create", "rc-create", "pod-list", "rc-show",
                    "coe-service-list", "rc-update", "kubectl get po,rc,svc,nodes",
                    "bay-delete"):
        assert command in script, command
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    with magna_server(str(tmp_path / "state")) as server:
        body = script.replace("http://127.0.0.1:9511", server.url)
        env = {**os.environ, "HOME": str(tmp_path),  # kubectl's cache goes to $HOME/.kube
               "PATH": f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}"}
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=600)
        remaining = httpx.get(server.endpoint + "/clusters", timeout=30).json()["clusters"]
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "k8sbay: CREATE_COMPLETE" in result.stderr, result.stderr
    assert "redis-sentinel: 3/3 replicas ready" in result.stderr, result.stderr
    assert "k8sbay: DELETE_COMPLETE" in result.stderr, result.stderr
    # magna's view (pod-list, rc-show, coe-service-list) agrees with kubectl's
    master = re.search(r"\| redis-master\s+\| default\s+\|[^|]+\| (\S+)\s+\| (\S+)\s+\| "
                       r"Running\s+\| True", out)
    assert master, out
    assert re.search(r"\| ready_replicas\s+\| 2\s+\|", out), out
    service = re.search(r"\| redis-sentinel\s+\| default\s+\| ClusterIP\s+\| (\S+)", out)
    assert service, out
    assert re.search(rf"service/redis-sentinel\s+ClusterIP\s+{re.escape(service[1])}\s", out), out
    # kubectl's view of the same objects
    assert re.search(r"pod/redis-master\s+2/2\s+Running", out), out
    assert re.search(r"replicationcontroller/redis\s+2\s+2\s+2", out), out
    assert re.search(r"replicationcontroller/redis-sentinel\s+3\s+3\s+3", out), out
    assert "service/redis-sentinel" in out, out
    assert len(re.findall(r"node/k8sbay-default-\S+\s+Ready", out)) == 3, out
    assert remaining == []
