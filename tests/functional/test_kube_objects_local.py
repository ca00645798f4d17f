"""The guides' walk-through on a real local Kubernetes cluster, through the API and an
in-process conductor: a pod, a service and a replication controller created with manifests,
listed and shown, the controller scaled, and each answer compared with what ``kubectl`` (the
one built with the cluster's binaries, a user certificate signed through ``POST
/v1/certificates``) says. The image is the nodes' preloaded busybox; nothing is pulled.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
from magna.drivers.local_nodes import network
from tests.conftest import make_conf
from tests.support.conductor import FAST, Stack, conductor_stack
from tests.support.databases import SQLITE_ONLY
from tests.support.kubernetes import Kubectl, bin_dir, eventually
from tests.support.local_containers import ApiSigner
from tests.support.local_kubernetes import assert_nothing_left
from tests.support.local_swarm import brute_force_cleanup

pytestmark = [
    pytest.mark.docker,
    pytest.mark.kubernetes,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None,
                       reason="needs root and docker.io"),
]

POD = """# the redis master of the guides, with the nodes' busybox
apiVersion: v1
kind: Pod
metadata:
  name: redis-master
  labels: {name: redis, role: master}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: master
      image: magna/busybox:latest
      imagePullPolicy: Never
      command: ["sleep", "3600"]
      ports: [{containerPort: 6379}]
"""
SERVICE = """apiVersion: v1
kind: Service
metadata: {name: redis-sentinel, labels: {name: sentinel}}
spec:
  selector: {redis-sentinel: "true"}
  ports: [{port: 26379, targetPort: 26379}]
"""
RC = """apiVersion: v1
kind: ReplicationController
metadata: {name: redis}
spec:
  replicas: 2
  selector: {name: redis}
  template:
    metadata: {labels: {name: redis}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: redis
          image: magna/busybox:latest
          imagePullPolicy: Never
          command: ["sleep", "3600"]
"""


@pytest.fixture
def stack(tmp_path: Path, db_url: str) -> Iterator[Stack]:
    bin_dir()
    conf = make_conf(tmp_path, db_url, drivers={"enabled_drivers": ["local-kubernetes"]},
                     conductor=FAST)
    with conductor_stack(conf, tmp_path) as running:
        yield running


def build_cluster(stack: Stack) -> dict[str, Any]:
    template = stack.api.post("/v1/clustertemplates", json={
        "name": "k8s", "coe": "kubernetes", "image_id": "fedora-coreos-latest",
        "external_network_id": "public", "flavor_id": "m1.small",
        "master_flavor_id": "m1.small"})
    assert template.status_code == 201, template.text
    created = stack.api.post("/v1/clusters", json={
        "name": "k8sbay", "cluster_template_id": template.json()["uuid"], "master_count": 1,
        "node_count": 1})
    assert created.status_code == 202, created.text
    return stack.wait_status(created.json()["uuid"], "CREATE_COMPLETE", timeout=420)


def create(stack: Stack, collection: str, manifest: str) -> dict[str, Any]:
    answer = stack.api.post(f"/v1/{collection}", json={"manifest": manifest,
                                                       "bay_uuid": "k8sbay"})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def shown(stack: Stack, collection: str, name: str) -> dict[str, Any]:
    answer = stack.api.get(f"/v1/{collection}/{name}", params={"bay_ident": "k8sbay"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def listed(stack: Stack, collection: str) -> dict[str, dict[str, Any]]:
    answer = stack.api.get(f"/v1/{collection}", params={"bay_ident": "k8sbay"})
    assert answer.status_code == 200, answer.text
    return {item["name"]: item for item in answer.json()[collection]}


@SQLITE_ONLY
def test_the_guides_pod_service_and_rc_agree_with_kubectl(stack: Stack, tmp_path: Path) -> None:
    cluster = build_cluster(stack)
    try:
        kubectl = Kubectl(ApiSigner(stack, cluster["uuid"]), cluster["api_address"],
                          tmp_path / "user")
        # NOTE: CREATE_COMPLETE comes before the service account controller made the
        # namespace's ``default`` account, without which the API server refuses pods.
        eventually(lambda: kubectl.run("get", "serviceaccount", "default", check=False
                                       ).returncode == 0, timeout=60,
                   what="the default service account")
        create(stack, "pods", POD)
        service = create(stack, "services", SERVICE)
        create(stack, "rcs", RC)

        pod = eventually(lambda: (body := shown(stack, "pods", "redis-master"))["ready"]
                         and body, timeout=120, what="redis-master Running and Ready")
        seen = kubectl.json("get", "pod", "redis-master")
        assert (pod["status"], pod["host"], pod["ip"], pod["uuid"]) == (
            seen["status"]["phase"], seen["spec"]["nodeName"], seen["status"]["podIP"],
            seen["metadata"]["uid"])
        assert pod["status"] == "Running" and pod["manifest"] == POD

        svc = kubectl.json("get", "svc", "redis-sentinel")
        assert service["ip"] == svc["spec"]["clusterIP"] == listed(
            stack, "services")["redis-sentinel"]["ip"]
        assert sorted(listed(stack, "services")) == sorted(
            item["metadata"]["name"] for item in kubectl.json("get", "svc")["items"])

        rc = eventually(lambda: (body := shown(stack, "rcs", "redis"))["ready_replicas"] == 2
                        and body, timeout=120, what="the rc's 2 replicas ready")
        assert kubectl.json("get", "rc", "redis")["status"]["readyReplicas"] == 2
        assert rc["replicas"] == 2 and rc["images"] == ["magna/busybox:latest"]

        scaled = stack.api.patch("/v1/rcs/redis", params={"bay_ident": "k8sbay"},
                                 json=[{"op": "replace", "path": "/replicas", "value": 3}])
        assert scaled.status_code == 200, scaled.text
        eventually(lambda: shown(stack, "rcs", "redis")["ready_replicas"] == 3, timeout=120,
                   what="3 replicas ready after the scale")
        assert kubectl.json("get", "rc", "redis")["spec"]["replicas"] == 3
        pods = {item["metadata"]["name"]: item
                for item in kubectl.json("get", "pods")["items"]}
        assert sorted(listed(stack, "pods")) == sorted(pods)
        # NOTE: as in the guides, the rc's selector (name=redis) matches the redis-master pod,
        # which the controller adopts as one of its replicas.
        owned = sorted(name for name, item in pods.items()
                       if any(ref.get("kind") == "ReplicationController"
                              for ref in item["metadata"].get("ownerReferences", [])))
        assert len(owned) == 3 and "redis-master" in owned, owned

        assert stack.api.delete("/v1/pods/redis-master",
                                params={"bay_ident": "k8sbay"}).status_code == 204
        eventually(lambda: "redis-master" not in listed(stack, "pods")
                   and shown(stack, "rcs", "redis")["ready_replicas"] == 3, timeout=120,
                   what="redis-master gone and replaced by the rc")
        assert kubectl.run("get", "pod", "redis-master", check=False).returncode != 0
        assert sorted(listed(stack, "pods")) == sorted(
            item["metadata"]["name"] for item in kubectl.json("get", "pods")["items"]
            if not item["metadata"].get("deletionTimestamp"))
    finally:
        assert stack.api.delete(f"/v1/clusters/{cluster['uuid']}").status_code == 204
        try:
            stack.wait_gone(cluster["uuid"], timeout=180)
            driver = stack.services.drivers.drivers[0]
            assert isinstance(driver, LocalKubernetesDriver)
            assert_nothing_left(driver, cluster["uuid"])
        finally:
            brute_force_cleanup(network.short_id(cluster["uuid"]))
