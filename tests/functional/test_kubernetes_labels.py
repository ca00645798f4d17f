"""The address labels on a real local Kubernetes cluster (one master, one worker): the pod
network, each node's pod subnet and the service range are the labels' values, as the cluster
itself reports them (``kubectl`` with a certificate from the cluster's CA), not as Magna does.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from pathlib import Path

import pytest

from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
from tests.conftest import make_conf
from tests.support.kubernetes import Kubectl, bin_dir, eventually
from tests.support.local_kubernetes import converge, make_spec, removed_after
from tests.support.local_swarm import TinyPKI

pytestmark = [
    pytest.mark.docker,
    pytest.mark.kubernetes,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None,
                       reason="needs root and docker.io"),
]

LABELS = {"flannel_network_cidr": "10.210.0.0/16", "flannel_network_subnetlen": "25",
          "service_cluster_ip_range": "10.220.0.0/16", "flannel_backend": "host-gw"}
POD = """
apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: box
    image: magna/busybox:latest
    imagePullPolicy: Never
    command: ["sleep", "3600"]
"""


def test_address_labels_shape_the_cluster(tmp_path: Path) -> None:
    bin_dir()
    driver = LocalKubernetesDriver(make_conf(tmp_path / "state"))
    spec, pki = make_spec(workers=1, labels=LABELS), TinyPKI()
    with removed_after(driver, spec):
        observed = converge(driver, spec, pki)
        kubectl = Kubectl(pki, str(observed.api_address), tmp_path / "user")
        service = kubectl.json("get", "service", "kubernetes")
        assert service["spec"]["clusterIP"] == "10.220.0.1"
        kubectl.run("apply", "-f", "-", stdin=POD)
        pod = eventually(lambda: _running(kubectl), timeout=60, what="the pod to run")
        address = ipaddress.ip_address(pod["status"]["podIP"])
        assert address in ipaddress.ip_network("10.210.0.0/16")
        worker = next(node for node in driver._members(spec) if node.role == "worker")
        subnets = list(ipaddress.ip_network("10.210.0.0/16").subnets(new_prefix=25))
        assert address in subnets[worker.slot], (address, worker.slot)
        assert not any(address in ipaddress.ip_network(default) for default in
                       ("10.100.0.0/16", "10.254.0.0/16"))


def _running(kubectl: Kubectl) -> dict[str, object] | None:
    pod: dict[str, dict[str, str]] = kubectl.json("get", "pod", "box")
    return pod if pod["status"].get("phase") == "Running" and pod["status"].get("podIP") \
        else None
