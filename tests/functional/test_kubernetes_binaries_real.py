"""The host's real Kubernetes binaries run: the cache build.sh fills, not a stand-in.

In CI ``./dev test`` starts the build in the background right after installing, so it may still
be compiling when this runs: the test waits for it through ``Binaries.require`` (the same
requeue a Kubernetes cluster waits with) instead of skipping, and starts it if nothing has.
Each binary must say it is v1.20.2, and kubectl must encode a map as JSON: with the vendored
reflect2 1.0.1 that panicked under Go >= 1.18, so this is the check that Debian's 1.0.2 is in.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from magna.common.exceptions import TemporaryError
from magna.drivers.local_kubernetes.binaries import Binaries
from tests.conftest import make_conf

pytestmark = [
    pytest.mark.kubernetes,
    pytest.mark.skipif(os.geteuid() != 0, reason="the build installs Debian packages as root"),
]

BUILD_WAIT = 40 * 60
SERVER_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
                   "kube-proxy")


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    conf = make_conf(tmp_path_factory.mktemp("state")).local_kubernetes
    cache = Binaries(conf.cache_dir, retry_after=conf.build_retry_after)
    deadline = time.monotonic() + BUILD_WAIT
    while True:
        try:
            return Path(cache.require("1.20.2"))
        except TemporaryError as waiting:
            if time.monotonic() > deadline:
                raise AssertionError(f"no Kubernetes binaries after {BUILD_WAIT} s: "
                                     f"{waiting.message}") from None
            time.sleep(waiting.delay)


def run(bin_dir: Path, tmp_path: Path, *args: str) -> str:
    # NOTE: HOME keeps kubectl's discovery cache out of root's home.
    result = subprocess.run([str(bin_dir / args[0]), *args[1:]], capture_output=True,
                            text=True, timeout=60, env={"PATH": os.environ["PATH"],
                                                        "HOME": str(tmp_path)}, check=False)
    assert result.returncode == 0, result
    return result.stdout


@pytest.mark.parametrize("binary", SERVER_BINARIES)
def test_each_server_binary_is_v1_20_2(bin_dir: Path, tmp_path: Path, binary: str) -> None:
    assert run(bin_dir, tmp_path, binary, "--version").strip() == "Kubernetes v1.20.2"


def test_kubectl_and_pause_are_v1_20_2(bin_dir: Path, tmp_path: Path) -> None:
    assert 'GitVersion:"v1.20.2"' in run(bin_dir, tmp_path, "kubectl", "version", "--client")
    assert run(bin_dir, tmp_path, "pause", "-v").strip() == "pause.c v1.20.2-magna"


def test_kubectl_encodes_a_map_as_json(bin_dir: Path, tmp_path: Path) -> None:
    said = run(bin_dir, tmp_path, "kubectl", "create", "configmap", "probe",
               "--from-literal=key=value", "--from-literal=other=2", "--dry-run=client",
               "-o", "json")
    document = json.loads(said)
    assert document["kind"] == "ConfigMap"
    assert document["data"] == {"key": "value", "other": "2"}


def test_the_cache_says_what_it_was_built_from(bin_dir: Path) -> None:
    built = (bin_dir.parent / "BUILT").read_text()
    assert "version: 1.20.2" in built
    assert "debian_source: kubernetes " in built
    names = {line.split("./")[1] for line in built.splitlines() if "  ./" in line}
    assert names == {*SERVER_BINARIES, "kubectl", "pause"}
