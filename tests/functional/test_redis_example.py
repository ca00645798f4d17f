"""The guides' replicated Redis example (``docs/examples/redis``) on a real Kubernetes cluster.

The four manifests are created with ``kubectl`` in the guide's order, both controllers raised to
two replicas with the guide's ``sed`` substitution, and what the cluster then does is checked
from inside its pods (``kubectl exec``): a key written on the master is read on every replica,
each replica follows the master, and every sentinel names the master and sees the others.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from magna.drivers.base import ClusterSpec
from magna.drivers.local_kubernetes import redis_image
from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
from tests.support.kubernetes import Kubectl, bin_dir, eventually
from tests.support.local_kubernetes import cluster, converge, driver  # noqa: F401
from tests.support.local_swarm import TinyPKI

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "redis"
pytestmark = [pytest.mark.docker, pytest.mark.kubernetes]
WAIT = 180.0


def manifest(name: str, replicas: int | None = None) -> str:
    text = (EXAMPLE / name).read_text()
    if replicas is not None:  # what the guide's sed 's/\(replicas: \)1/\1 2/' does
        text = re.sub(r"(replicas: )1", rf"\g<1> {replicas}", text)
    return text


@pytest.fixture
def kubectl(driver: LocalKubernetesDriver,  # noqa: F811 - the fixtures imported above
            cluster: tuple[ClusterSpec, TinyPKI], tmp_path: Path) -> Kubectl:  # noqa: F811
    """A cluster admin's kubectl on a converged cluster (deleted by the ``cluster`` fixture)."""
    bin_dir()
    spec, pki = cluster
    observed = converge(driver, spec, pki)
    kubectl = Kubectl(pki, str(observed.api_address), tmp_path / "user")
    # NOTE: a converged cluster may not have its default service account yet (the controller
    # manager makes it); until then the API server refuses every pod.
    eventually(lambda: kubectl.run("get", "serviceaccount", "default", check=False
                                   ).returncode == 0, timeout=60,
               what="the default service account")
    return kubectl


def running(kubectl: Kubectl, selector: str) -> list[dict[str, Any]]:
    """The pods of ``selector`` whose containers are all running, or [] while any is not."""
    pods: list[dict[str, Any]] = kubectl.json("get", "pods", "-l", selector)["items"]
    ready = [pod for pod in pods if pod["status"].get("phase") == "Running"
             and all(c.get("ready") for c in pod["status"].get("containerStatuses", []))]
    return ready if pods and len(ready) == len(pods) else []


def redis(kubectl: Kubectl, pod: str, *command: str, container: str | None = None) -> str:
    where = ["-c", container] if container else []
    done = kubectl.run("exec", pod, *where, "--", "redis-cli", "--raw", *command)
    return done.stdout.strip()


def sentinel_view(kubectl: Kubectl, pod: str, container: str | None) -> dict[str, str]:
    """What one sentinel says of the master ``mymaster`` (its name/value pairs)."""
    words = redis(kubectl, pod, "-p", "26379", "SENTINEL", "master", "mymaster",
                  container=container).split()
    return dict(zip(words[::2], words[1::2], strict=True))


def test_the_manifests_name_the_image_nodes_have() -> None:
    for path in sorted(EXAMPLE.glob("*.yaml")):
        for image in re.findall(r"image: (\S+)", path.read_text()):
            assert image == redis_image.name(), path.name
        assert path.read_text().count("image:") == path.read_text().count(
            "imagePullPolicy: Never"), path.name


def test_redis_master_sentinels_and_replicas_replicate(kubectl: Kubectl) -> None:
    kubectl.run("create", "-f", "-", stdin=manifest("redis-master.yaml"))
    eventually(lambda: running(kubectl, "role=master"), timeout=WAIT, what="redis-master")
    assert redis(kubectl, "redis-master", "ping", container="master") == "PONG"

    kubectl.run("create", "-f", "-", stdin=manifest("redis-sentinel-service.yaml"))
    kubectl.run("create", "-f", "-", stdin=manifest("redis-controller.yaml", replicas=2))
    kubectl.run("create", "-f", "-", stdin=manifest("redis-sentinel-controller.yaml", replicas=2))
    for rc in ("redis", "redis-sentinel"):
        assert kubectl.json("get", "rc", rc)["spec"]["replicas"] == 2
    for rc in ("redis", "redis-sentinel"):
        eventually(lambda rc=rc: kubectl.json("get", "rc", rc)["status"].get("readyReplicas")
                   == 2, timeout=WAIT, what=f"the controller {rc}'s two ready replicas")
    sentinels = eventually(lambda: running(kubectl, "role=sentinel"), timeout=WAIT,
                           what="the sentinel controller's pods")

    master = kubectl.json("get", "pod", "redis-master")["status"]["podIP"]
    replicas = [pod["metadata"]["name"] for pod in running(kubectl, "name=redis")
                if pod["metadata"]["name"] != "redis-master"]
    # The redis controller adopted redis-master; the sentinel controller could not (a pod has
    # one controller), so two sentinels of its own (docs/examples/redis/README.md).
    assert len(replicas) == 1 and len(sentinels) == 2, (replicas, sentinels)
    assert redis(kubectl, "redis-master", "set", "replication:test", "true",
                 container="master") == "OK"
    for pod in replicas:
        eventually(lambda pod=pod: redis(kubectl, pod, "get", "replication:test") == "true",
                   timeout=60, what=f"the key on the replica {pod}")
        info = redis(kubectl, pod, "info", "replication")
        assert "role:slave" in info and f"master_host:{master}" in info, info

    watchers = [("redis-master", "sentinel")] + [
        (pod["metadata"]["name"], None) for pod in sentinels]
    for pod, container in watchers:
        view = eventually(
            lambda pod=pod, container=container: (
                (view := sentinel_view(kubectl, pod, container))
                and view["num-other-sentinels"] == str(len(watchers) - 1)
                and view["num-slaves"] == str(len(replicas)) and view),
            timeout=60, what=f"the sentinel in {pod} to see the others and the replicas")
        assert (view["ip"], view["port"], view["flags"]) == (master, "6379", "master")
