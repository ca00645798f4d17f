"""The README's walk-through, run as written against a real `magna serve` process."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest
from cryptography import x509

from tests.support import kubernetes
from tests.support.dashboard_clusters import cleaning_server

ROOT = pathlib.Path(__file__).resolve().parents[2]


def readme_block(heading: str) -> str:
    """The first shell block after ``heading`` in the README."""
    text = (ROOT / "README.md").read_text()
    section = text.split(heading, 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, f"the README has a shell block under {heading!r}"
    return match.group(1)


def walkthrough() -> str:
    return readme_block("## Walk-through with `openstack coe`")


def run_as_written(script: str, tmp_path: pathlib.Path, home: pathlib.Path | None = None
                   ) -> subprocess.CompletedProcess[str]:
    """Run a README block with bash against a fresh ``magna serve`` on its default settings."""
    # NOTE: a cleaning server: a walk-through that fails or times out midway leaves no cluster
    # behind (one left its Kubernetes nodes running when its server was stopped).
    with cleaning_server(str(tmp_path / "state")) as server:
        lines = [line for line in script.splitlines()
                 if not line.startswith(". .venv/bin/activate")]
        body = "\n".join(lines).replace("http://127.0.0.1:9511/v1", server.endpoint)
        env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}:"
               f"{os.environ['PATH']}", "SHELL": "/bin/bash",
               "OS_AUTH_TYPE": "none", "OS_ENDPOINT": server.endpoint,
               **({"HOME": str(home)} if home is not None else {})}
        try:
            return subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path,
                                  env=env, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired as exc:  # say how far it got
            raise AssertionError(f"the walk-through did not finish in 300 s; it said:\n"
                                 f"{exc.stdout!s}\n{exc.stderr!s}") from None


@pytest.mark.client
@pytest.mark.docker
def test_readme_walkthrough_runs(tmp_path: pathlib.Path) -> None:
    script = walkthrough()
    assert "openstack coe cluster create" in script
    result = run_as_written(script, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Request to create cluster" in result.stdout
    # docker node ls after create (3 nodes) and after resizing to 3 workers (4 nodes)
    assert result.stdout.count(" Ready ") == 3 + 4, result.stdout
    assert "<title>magna</title>" in result.stdout, result.stdout  # the service answered
    assert result.stdout.count("UPDATE_COMPLETE") == 2, result.stdout
    assert result.stdout.rstrip().endswith("0"), result.stdout  # no namespace left
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == "CN=me"


@pytest.mark.client
@pytest.mark.docker
def test_readme_three_managers_survive_a_dead_engine(tmp_path: pathlib.Path) -> None:
    script = readme_block("### Three managers behind a load balancer")
    assert "--master-count 3" in script and "kill -9" in script
    result = run_as_written(script, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    gateway = re.search(r"^tcp://(10\.[0-9.]+)\.1:2375$", out, re.M)
    assert gateway, out  # the API address is the load balancer on the bridge's gateway
    first_ls, _, rest = out.partition("still answering")
    assert first_ls.count(" Leader ") == 1 and first_ls.count(" Reachable ") == 2, out
    assert first_ls.count(" Ready ") == 4, out
    events = [line for line in rest.splitlines() if line.startswith(("Health ", "Healed "))]
    assert events[0].startswith("Health UNHEALTHY: default-master-1: engine not answering"), out
    assert any(line.startswith("Healed Healing: restarted") and "default-master-1" in line
               for line in events), out
    assert events[-1] == "Health HEALTHY: every node Ready", out
    final_ls = rest[rest.rindex("every node Ready") + len("every node Ready"):]
    assert final_ls.count(" Ready ") == 4 and final_ls.count(" Reachable ") == 2, out


@pytest.mark.client
@pytest.mark.docker
@pytest.mark.kubernetes
def test_readme_kubernetes_walkthrough_runs(tmp_path: pathlib.Path) -> None:
    """`openstack coe` creates a Kubernetes cluster, the stock client's `cluster config` gives
    kubectl a working kubeconfig, a replication controller serves through a NodePort, the
    cluster resizes with a drain, and delete leaves no namespace."""
    kubernetes.bin_dir()  # waits for a build in progress (CI starts it at ./dev test)
    script = readme_block("### Kubernetes with `openstack coe` and `kubectl`")
    assert "--coe kubernetes" in script
    # NOTE: kubectl keeps a discovery cache under $HOME/.kube: the test's own HOME.
    result = run_as_written(script, tmp_path, home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CREATE_COMPLETE\nv1.20.2\nhttps://" in result.stdout, result.stdout
    assert "<title>magna</title>" in result.stdout, result.stdout
    ready: list[int] = []  # Ready nodes in each `kubectl get nodes` table
    for line in result.stdout.splitlines():
        if line.startswith("NAME") and "STATUS" in line:
            ready.append(0)
        elif ready and " Ready " in line:
            ready[-1] += 1
    assert ready == [3, 4, 3], result.stdout
    assert result.stdout.count("UPDATE_COMPLETE") == 2, result.stdout
    assert result.stdout.rstrip().endswith("0"), result.stdout
