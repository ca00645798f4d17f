"""The README's walk-through, run as written against a real `magna serve` process."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest
from cryptography import x509

from tests.support.server import magna_server

ROOT = pathlib.Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Walk-through with `openstack coe`", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README has a walk-through shell block"
    return match.group(1)


@pytest.mark.client
@pytest.mark.docker
def test_readme_walkthrough_runs(tmp_path: pathlib.Path) -> None:
    script = walkthrough()
    assert "openstack coe cluster create" in script
    with magna_server(str(tmp_path / "state")) as server:
        lines = [line for line in script.splitlines()
                 if not line.startswith(". .venv/bin/activate")]
        body = "\n".join(lines).replace("http://127.0.0.1:9511/v1", server.endpoint)
        env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}:"
               f"{os.environ['PATH']}", "SHELL": "/bin/bash"}
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=300)
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
