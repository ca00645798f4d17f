"""The README's "Containers on a swarm-mode cluster" commands, run as written with ``magna`` and
the stock ``docker`` CLI against a real ``magna serve`` on the local Swarm driver.

Every state the ``magna`` commands report is checked against what the node's own engine says
(``docker inspect`` over TLS with the certificates ``cluster-config`` wrote). The README block is
the script, so the README cannot drift from what works.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import httpx
import pytest

from magna.drivers.local_nodes.teardown import UUID_RE
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.local_swarm import assert_nothing_left, cleaned
from tests.support.server import magna_server

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = "## Containers on a swarm-mode cluster"

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None
                       or shutil.which("docker") is None,
                       reason="needs root, docker.io and the docker CLI"),
]


def script() -> str:
    section = (ROOT / "README.md").read_text().split(HEADER, 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README has a containers shell block"
    return match.group(1)


def test_readme_containers_on_a_swarm_mode_cluster(tmp_path: pathlib.Path) -> None:
    body = script()
    for command in ("bay-create", "--wait", "container-create", "container-list",
                    "container-logs", "container-exec", "container-pause", "container-unpause",
                    "container-stop", "container-start", "container-reboot", "docker ps -a",
                    "docker inspect", "bay-delete", "container-show"):
        assert command in body, command
    state = tmp_path / "state"
    driver = LocalSwarmDriver(make_conf(state))
    try:
        with magna_server(str(state)) as server:
            env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}:"
                   f"{os.environ['PATH']}"}
            for name in ("DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"):
                env.pop(name, None)
            result = subprocess.run(["bash", "-euo", "pipefail", "-c",
                                     body.replace("http://127.0.0.1:9511", server.url)],
                                    cwd=tmp_path, env=env, capture_output=True, text=True,
                                    timeout=900)
            remaining = httpx.get(server.endpoint + "/clusters", timeout=30).json()["clusters"]
            containers = httpx.get(server.endpoint + "/containers", timeout=30).json()
        out, err = result.stdout, result.stderr
        assert result.returncode == 0, out + err
        assert "Traceback" not in err
        _check(out, err)
        assert remaining == [] and containers["containers"] == []
        delete_line = [line for line in err.splitlines() if "DELETE_COMPLETE" in line][-1]
        print(f"\nbay-delete --wait with a running container: {delete_line}")
    finally:
        left = [entry for entry in (os.listdir(driver.root) if os.path.isdir(driver.root)
                                    else []) if UUID_RE.match(entry)]
        for cluster_uuid in left:  # only when the script failed half way
            with cleaned(driver, cluster_uuid):
                pass
            assert_nothing_left(driver, cluster_uuid)
        assert left == []


def _check(out: str, err: str) -> None:
    lines = out.splitlines()
    assert "boxes: CREATE_COMPLETE  nodes 2/2" in err, err
    assert re.search(r"box: Running  on 10\.\d+\.\d+\.\d+", err), err
    assert re.search(r"\| box\s+\| magna/busybox:latest \| Running", out), out
    # logs --tail 1, then exec: its output and its exit code.
    assert lines[lines.index("hello") + 1:lines.index("hello") + 3] == ["hi", "exit code 3"]
    # The engine's own view: the container is there, and follows each action.
    assert any(re.fullmatch(r"magna-[0-9a-f-]{36} magna/busybox:latest running", line)
               for line in lines), out
    engine = [line.split() for line in lines if line.startswith("engine: ")]
    assert [seen for _, seen, _ in engine] == ["paused", "running", "exited", "running",
                                                 "running"], engine
    assert engine[4][2] != engine[3][2], "reboot restarts the container (a new StartedAt)"
    for word in ("pause", "unpause", "stop", "start", "reboot"):
        assert f"Request to {word} container box has been accepted." in lines
    # What each --wait ended on, once the engine's answer was recorded.
    settled = [line.split()[1] for line in err.splitlines()
               if line.startswith("box: ") and "waiting for the engine" not in line]
    assert settled == ["Running", "Paused", "Running", "Stopped", "Running", "Running"], err
    # Truthful ends: exits at once (status, exit code), an image no node has.
    quick = lines.index("Stopped")  # -f value prints the columns in their sorted order
    assert lines[quick - 1] == "3", out
    nope = lines.index("Error")
    assert "No such image: alpine:3" in lines[nope + 1] and "never pulls" in lines[nope + 1]
    assert "ERROR: Container nope is in Error: No such image: alpine:3" in err, err
    assert "exit code 3" in lines[nope + 2:], out
    assert "boxes: DELETE_COMPLETE" in err, err
    assert "ERROR: Container box could not be found. (HTTP 404)" in err, err
    assert lines[-1] == "exit code 1", out
