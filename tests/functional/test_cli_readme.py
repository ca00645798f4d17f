"""The README's ``magna`` walk-through (the original guides' commands), run as written against a
real ``magna serve`` on the default local Swarm driver, ending with the stock ``docker`` CLI
listing the nodes over TLS."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import httpx
import pytest
from cryptography import x509

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
                    "cluster-config", "docker node ls", "bay-delete"):
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
    assert remaining == []
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    mine = x509.load_pem_x509_certificate((tmp_path / "me-cert.pem").read_bytes())
    mine.verify_directly_issued_by(ca)
    assert mine.subject.rfc4514_string() == "CN=me"
    certs = tmp_path / "swarmbay-certs"
    assert (certs / "key.pem").stat().st_mode & 0o777 == 0o600
    assert x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes()) == ca
