"""A Kubernetes cluster's nodes with ``docker_volume_size``: the engine's data root and
kubelet's root (emptyDir volumes) share the node's own disk, so a pod fills that disk, not the
host's, and delete releases it. One 1+1 cluster (Kubernetes clusters are slow)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
from magna.drivers.local_nodes import daemons
from magna.drivers.local_nodes.node import LocalNode
from tests.support.kubernetes import Kubectl, eventually
from tests.support.local_kubernetes import (  # noqa: F401
    assert_nothing_left,
    binaries_built,
    converge,
    driver,
    make_spec,
    members,
    removed_after,
)
from tests.support.local_swarm import TinyPKI
from tests.support.node_storage import GIB, loops_under

pytestmark = [
    pytest.mark.docker,
    pytest.mark.kubernetes,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None
                       or shutil.which("mkfs.ext4") is None,
                       reason="needs root, docker.io and e2fsprogs"),
]


def in_node(node: LocalNode, *argv: str) -> str:
    init = daemons.node_init(node)
    return subprocess.run(["nsenter", "-t", str(init), "--mount", "--pid", "--root", "--wd",
                           *argv], capture_output=True, text=True, check=True).stdout


def test_kubelet_and_the_engine_share_the_nodes_disk(
        driver: LocalKubernetesDriver, tmp_path: Path) -> None:  # noqa: F811 - imported above
    spec, pki = make_spec(workers=1), TinyPKI()
    spec = dataclasses.replace(spec, docker_volume_size=1, nodegroups=tuple(
        dataclasses.replace(ng, docker_volume_size=1) for ng in spec.nodegroups))
    with removed_after(driver, spec):
        observed = converge(driver, spec, pki)
        worker = members(driver, spec)["default-worker-0"]
        out = in_node(worker, "df", "-B1", "--output=size,target", "/var/lib/docker",
                      "/var/lib/kubelet")
        sizes = {target: int(size) for size, target in
                 (line.split() for line in out.splitlines()[1:])}
        assert set(sizes) == {"/var/lib/docker", "/var/lib/kubelet"}
        assert all(0.9 * GIB < size <= GIB for size in sizes.values()), sizes
        devices = in_node(worker, "stat", "-c", "%d", "/var/lib/docker", "/var/lib/kubelet")
        assert len(set(devices.split())) == 1  # one filesystem: the node's disk
        info = subprocess.run(["docker", "-H", f"unix://{worker.engine.socket}", "info",
                               "--format", "{{.Driver}}"], capture_output=True, text=True)
        assert info.stdout.strip() == "overlay2", info.stderr

        kubectl = Kubectl(pki, str(observed.api_address), tmp_path / "admin")
        pod = {"spec": {"nodeName": worker.hostname,
                        "volumes": [{"name": "scratch", "emptyDir": {}}],
                        "containers": [{
                            "name": "fill", "image": "magna/busybox:latest",
                            "imagePullPolicy": "Never",
                            "command": ["sh", "-c", "dd if=/dev/zero of=/scratch/fill bs=1M "
                                        "count=1200; echo dd=$?; sleep 3600"],
                            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}]}}
        kubectl.run("run", "fill", "--image=magna/busybox:latest",
                    "--overrides=" + json.dumps(pod))
        logs = str(eventually(lambda: (text := kubectl.run("logs", "fill", check=False).stdout)
                              and "dd=" in text and text, timeout=120,
                              what="the filler's output"))
        assert "No space left on device" in logs and "dd=1" in logs, logs
        cluster_dir = os.path.join(driver.nodes.settings.root, spec.uuid)
        assert len(loops_under(cluster_dir)) == 2
    assert_nothing_left(driver, spec.uuid)
    assert loops_under(driver.nodes.settings.root) == []
