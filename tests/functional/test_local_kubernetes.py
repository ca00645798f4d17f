"""The local Kubernetes driver builds real Kubernetes clusters on sealed local nodes.

The tests drive the driver directly (a hand-made ``ClusterSpec``, the tiny PKI of the swarm
tests) and check what the cluster and the host say, not what the driver says: the built
``kubectl`` with a user's certificate from the cluster's CA, HTTP from the host to a NodePort,
processes, namespaces and rules on the host after delete.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from magna.common.exceptions import TemporaryError
from magna.drivers.base import ClusterSpec
from magna.drivers.local_kubernetes import agents, layout
from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
from magna.drivers.local_nodes import daemons, engine
from magna.drivers.local_nodes.node import LocalNode
from tests.support import local_kubernetes
from tests.support.kubernetes import WEB_MANIFEST, Kubectl, eventually, http_get
from tests.support.local_kubernetes import (
    assert_nothing_left,
    converge,
    make_spec,
    members,
    removed_after,
)
from tests.support.local_swarm import TinyPKI

REPO = str(Path(__file__).resolve().parents[2])
pytestmark = [
    pytest.mark.docker,
    pytest.mark.kubernetes,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dockerd") is None,
                       reason="needs root and docker.io"),
]
# the fixtures: the binaries built before the module's first test, a driver with its own state
# dir, and a 1+2 cluster removed after its test
binaries_built = local_kubernetes.binaries_built
driver = local_kubernetes.driver
cluster = local_kubernetes.cluster


def with_workers(spec: ClusterSpec, count: int, remove: tuple[str, ...] = ()) -> ClusterSpec:
    groups = tuple(dataclasses.replace(ng, node_count=count, nodes_to_remove=remove)
                   if ng.role == "worker" else ng for ng in spec.nodegroups)
    return dataclasses.replace(spec, nodegroups=groups, generation=spec.generation + 1)


def in_node(node: LocalNode, script: str) -> None:
    """Run a shell script as the node's root sees the node (its mounts, its processes)."""
    subprocess.run(["nsenter", "-t", str(daemons.node_init(node)), "--mount", "--pid", "--root",
                    "--wd", "sh", "-c", script], check=True)


def test_create_serve_resize_and_delete(driver: LocalKubernetesDriver, tmp_path: Path,
                                        cluster: tuple[ClusterSpec, TinyPKI]) -> None:
    spec, pki = cluster
    observed = converge(driver, spec, pki)
    master = observed.nodes[0].address
    assert observed.api_address == f"https://{master}:{layout.API_PORT}"
    assert observed.coe_version == "v1.20.2"
    assert [n.name for n in observed.nodes] == [
        "default-master-0", "default-worker-0", "default-worker-1"]
    kubectl = Kubectl(pki, str(observed.api_address), tmp_path / "user")
    assert kubectl.ready_nodes() == ["k-default-master-0", "k-default-worker-0",
                                     "k-default-worker-1"]
    labels = kubectl.json("get", "node", "k-default-master-0")["metadata"]["labels"]
    assert labels["magnum.openstack.org/role"] == "master"
    assert "node-role.kubernetes.io/master" in labels

    kubectl.run("apply", "-f", "-", stdin=WEB_MANIFEST)
    for node in observed.nodes:  # the NodePort answers on every node, from the host
        page = eventually(lambda node=node: http_get(str(node.address), 30080),
                          timeout=60, what=f"the NodePort on {node.name}")
        assert "Hello from a Magna cluster" in page

    three = with_workers(spec, 3)
    converge(driver, three, pki)
    assert len(kubectl.ready_nodes()) == 4
    back = with_workers(three, 2, remove=("default-worker-0",))
    observed = converge(driver, back, pki)
    assert [n.name for n in observed.nodes] == [
        "default-master-0", "default-worker-1", "default-worker-2"]
    assert kubectl.ready_nodes() == ["k-default-master-0", "k-default-worker-1",
                                     "k-default-worker-2"]
    pods = kubectl.json("get", "pods", "-l", "app=web")["items"]
    assert all(pod["spec"]["nodeName"] != "k-default-worker-0" for pod in pods)

    assert driver.delete(back)
    assert_nothing_left(driver, spec.uuid)


def test_tenant_pods_stay_inside_their_node(driver: LocalKubernetesDriver, tmp_path: Path,
                                            cluster: tuple[ClusterSpec, TinyPKI]) -> None:
    spec, pki = cluster
    spec = with_workers(spec, 1)
    observed = converge(driver, spec, pki)
    tenant = Kubectl(pki, str(observed.api_address), tmp_path / "tenant", user="tenant",
                     group=None)
    admin = Kubectl(pki, str(observed.api_address), tmp_path / "admin")
    admin.run("create", "rolebinding", "tenant-edit", "--clusterrole=edit", "--user=tenant")
    eventually(lambda: tenant.run("auth", "can-i", "create", "pods", check=False
                                  ).stdout.strip() == "yes", timeout=30,
               what="the tenant's role binding to take effect")
    refused = {
        "privileged": {"containers": [{"name": "c", "image": "magna/busybox:latest",
                                        "securityContext": {"privileged": True}}]},
        "hostPath": {"volumes": [{"name": "h", "hostPath": {"path": "/"}}],
                     "containers": [{"name": "c", "image": "magna/busybox:latest",
                                     "volumeMounts": [{"name": "h", "mountPath": "/h"}]}]},
        "hostNetwork": {"hostNetwork": True,
                        "containers": [{"name": "c", "image": "magna/busybox:latest"}]},
        "hostPID": {"hostPID": True,
                    "containers": [{"name": "c", "image": "magna/busybox:latest"}]},
    }
    for what, pod_spec in refused.items():
        for kubectl in (tenant, admin):
            done = kubectl.run("run", f"bad-{what.lower()}", "--image=magna/busybox:latest",
                               "--overrides=" + json.dumps({"spec": pod_spec}),
                               check=False)
            assert done.returncode != 0 and "PodSecurityPolicy" in done.stderr, (what, done)

    gateway = str(driver.nodes.allocation(spec.uuid).gateway)  # type: ignore[union-attr]
    script = ("ls /; cat /proc/1/cgroup; "
              f"printf x | nc -w 2 {gateway} 22; echo ssh=$?; "
              f"printf x | nc -w 2 {gateway} 5432; echo postgres=$?; "
              f"printf x | nc -w 2 {gateway} {layout.API_PORT}; echo lb=$?; sleep 3600")
    tenant.run("run", "probe", "--image=magna/busybox:latest", "--image-pull-policy=Never",
               "--command", "--", "sh", "-c", script)
    logs = eventually(lambda: (out := tenant.run("logs", "probe", check=False).stdout)
                      and "lb=" in out and out, timeout=60, what="the probe's output")
    assert "ssh=1" in logs and "postgres=1" in logs and "lb=1" in logs, logs
    assert "www" in logs and "root" in logs  # the image's own root, not the node's or host's

    pod = tenant.json("get", "pod", "probe")
    worker = members(driver, spec)["default-worker-0"]
    assert pod["spec"]["nodeName"] == worker.hostname
    # The pod's processes are in the node's engine cgroup, which the flavor caps.
    capped = f"/sys/fs/cgroup/memory{worker.engine.cgroup_parent}/docker"
    with open(os.path.join(capped, "memory.limit_in_bytes")) as handle:
        limit = int(handle.read())
    assert worker.flavor is not None and limit <= worker.flavor.ram_mb * 2**20
    container = pod["status"]["containerStatuses"][0]["containerID"].split("//")[1]
    assert os.path.isdir(os.path.join(capped, container))


def test_three_masters_behind_a_balancer_survive_one(driver: LocalKubernetesDriver,
                                                    tmp_path: Path) -> None:
    spec, pki = make_spec(masters=3, workers=1, master_lb_enabled=True), TinyPKI()
    with removed_after(driver, spec):
        observed = converge(driver, spec, pki)
        gateway = str(driver.nodes.allocation(spec.uuid).gateway)  # type: ignore[union-attr]
        assert observed.api_address == f"https://{gateway}:{layout.API_PORT}"
        kubectl = Kubectl(pki, str(observed.api_address), tmp_path / "user")
        assert len(kubectl.ready_nodes()) == 4

        first = members(driver, spec)["default-master-0"]
        for name in (agents.APISERVER, agents.ETCD):
            pid = daemons.pid_of(first, name)
            assert pid is not None
            for child in engine.children(pid):
                os.kill(child, signal.SIGKILL)
        eventually(lambda: daemons.pid_of(first, agents.APISERVER) is None, timeout=10,
                   what="the API server to be gone")
        # Through the balancer the cluster still answers (etcd may elect a leader first).
        eventually(lambda: len(kubectl.ready_nodes()) >= 3, timeout=30,
                   what="an answer through the balancer")
        seen = driver.observe(spec, pki)
        sick = [n for n in seen.nodes if not n.healthy]
        assert [n.name for n in sick] == ["default-master-0"]
        assert "kube-apiserver" in sick[0].reason and "etcd" in sick[0].reason

        healed = driver.heal(spec, pki)
        assert any("Repaired default-master-0" in note for note in healed.notes)
        assert daemons.pid_of(first, agents.APISERVER) is not None
        # NOTE: the restarted etcd member catches up and its API server reports in; on a busy
        # host that may outlast one pass's wait, and the conductor's next observation looks again.
        # (as the conductor's health observation does: heal again while unhealthy)
        seen: list[object] = []

        def healed_and_ready() -> bool:
            try:
                observed = driver.heal(spec, pki)
            except TemporaryError as exc:  # the conductor records it and heals again later
                seen[:] = [exc]
                return False
            seen[:] = [n for n in observed.nodes if not n.healthy]
            return observed.converged

        try:
            eventually(healed_and_ready, timeout=90, what="the healed master to be Ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; unhealthy: {seen}") from None
    assert_nothing_left(driver, spec.uuid)


def test_a_kubelet_that_cannot_register_is_reported(driver: LocalKubernetesDriver,
                                                    tmp_path: Path,
                                                    cluster: tuple[ClusterSpec, TinyPKI]
                                                    ) -> None:
    """A node whose kubelet cannot start never registers: the cluster does not converge, the
    node's reason says why, healing cannot repair it, and auto-healing replaces it."""
    spec, pki = cluster
    spec = with_workers(spec, 1)
    observed = converge(driver, spec, pki)
    worker = members(driver, spec)["default-worker-0"]
    daemons.stop(worker, agents.KUBELET, timeout=5)
    # A file where kubelet keeps its state: every start of it fails at once.
    in_node(worker, "umount -l /var/lib/kubelet 2>/dev/null; "
                    "rm -rf /var/lib/kubelet && touch /var/lib/kubelet")
    Kubectl(pki, str(observed.api_address), tmp_path / "admin").run(
        "delete", "node", worker.hostname)

    observed = driver.apply(spec, pki)  # starts the kubelet again, to no avail
    assert not observed.converged
    status = next(n for n in observed.nodes if n.name == "default-worker-0")
    assert status.healthy is False and "not registered" in status.reason

    # Healing restarts it to no avail; with auto-healing the worker is replaced.
    assert not driver.heal(spec, pki).converged
    healing_spec = dataclasses.replace(spec, labels={"auto_healing_enabled": "true"})
    healed = driver.heal(healing_spec, pki)
    assert healed.converged, healed.nodes
    assert [n.name for n in healed.nodes] == ["default-master-0", "default-worker-1"]
    assert any("Auto-healing: replacing worker default-worker-0" in n for n in healed.notes)
    assert any("Auto-healing: node default-worker-1 joined" in n for n in healed.notes)
    assert not os.path.exists(worker.engine.node_dir)


def test_a_conductor_killed_mid_create_leaves_a_cluster_that_converges(
        driver: LocalKubernetesDriver, tmp_path: Path) -> None:
    """``apply`` killed with SIGKILL while the nodes come up, then run again, converges."""
    spec, pki = make_spec(workers=1), TinyPKI()
    script = tmp_path / "apply.py"
    script.write_text(
        "import pathlib, pickle, sys\n"
        "from tests.conftest import make_conf\n"
        "from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver\n"
        "spec, pki = pickle.loads(pathlib.Path(sys.argv[1]).read_bytes())\n"
        "LocalKubernetesDriver(make_conf(pathlib.Path(sys.argv[2]))).apply(spec, pki)\n")
    (tmp_path / "work.pickle").write_bytes(pickle.dumps((spec, pki)))
    with removed_after(driver, spec):
        process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "work.pickle"),
                                    str(tmp_path / "state")], cwd=REPO,
                                   env={**os.environ, "PYTHONPATH": REPO})

        def engine_started() -> bool:
            assert process.poll() is None, "the apply ended before it was killed"
            return any(engine.pid_of(node.engine) for node in driver._members(spec))

        eventually(engine_started, timeout=60, what="a node's engine to start")
        process.kill()
        process.wait()
        observed = converge(driver, spec, pki)
        assert all(n.healthy for n in observed.nodes)
    assert_nothing_left(driver, spec.uuid)


def test_nodegroup_profiles_and_a_rolling_upgrade(driver: LocalKubernetesDriver,
                                                  tmp_path: Path,
                                                  cluster: tuple[ClusterSpec, TinyPKI]) -> None:
    """Nodegroup labels and taints land on the registered nodes; an upgrade to another image
    restarts every engine, one node at a time, and every node is Ready after."""
    spec, pki = cluster
    taint = {"key": "dedicated", "value": "web", "effect": "NoSchedule"}
    workers = dataclasses.replace(spec.nodegroups[1], node_labels={"tier": "web"},
                                  node_taints=(taint,))
    spec = dataclasses.replace(spec, nodegroups=(spec.nodegroups[0], workers))
    observed = converge(driver, spec, pki)
    kubectl = Kubectl(pki, str(observed.api_address), tmp_path / "user")
    node = kubectl.json("get", "node", "k-default-worker-0")
    assert node["metadata"]["labels"]["tier"] == "web"
    assert {"key": "dedicated", "value": "web", "effect": "NoSchedule"} in [
        {k: t[k] for k in ("key", "value", "effect") if k in t} for t in node["spec"]["taints"]]

    before = {name: engine.pid_of(node.engine) for name, node in members(driver, spec).items()}
    upgraded = dataclasses.replace(spec, image_id="ubuntu-22.04", max_batch_size=1,
                                   generation=spec.generation + 1)
    observed = converge(driver, upgraded, pki)
    after = {name: engine.pid_of(node.engine) for name, node in members(driver, upgraded).items()}
    assert all(after[name] not in (None, before[name]) for name in before), (before, after)
    assert kubectl.ready_nodes() == ["k-default-master-0", "k-default-worker-0",
                                     "k-default-worker-1"]
    schedulable = [item["metadata"]["name"] for item in kubectl.json("get", "nodes")["items"]
                   if not item["spec"].get("unschedulable")]
    assert len(schedulable) == 3, "every node drained for its restart takes pods again"
    taints = kubectl.json("get", "node", "k-default-worker-1")["spec"]["taints"]
    assert any(t["key"] == "dedicated" for t in taints)


def test_ca_rotation_reissues_every_credential(driver: LocalKubernetesDriver, tmp_path: Path,
                                               cluster: tuple[ClusterSpec, TinyPKI]) -> None:
    """After the cluster's CA is replaced, the next apply re-issues every certificate and
    restarts what reads them: users of the new CA get in, those of the old one do not."""
    spec, old = cluster
    spec = with_workers(spec, 1)
    observed = converge(driver, spec, old)
    before = Kubectl(old, str(observed.api_address), tmp_path / "old")
    assert len(before.ready_nodes()) == 2

    new = TinyPKI()
    observed = converge(driver, dataclasses.replace(spec, generation=spec.generation + 1), new)
    after = Kubectl(new, str(observed.api_address), tmp_path / "new")
    assert eventually(lambda: len(after.ready_nodes()) == 2, timeout=60,
                      what="both nodes Ready under the new CA")
    refused = before.run("get", "nodes", check=False)
    assert refused.returncode != 0
    assert "certificate" in refused.stderr or "Unauthorized" in refused.stderr, refused.stderr


def test_an_etcd_that_will_not_start_is_waited_for_and_named(
        driver: LocalKubernetesDriver, cluster: tuple[ClusterSpec, TinyPKI]) -> None:
    """With its data directory unusable, etcd exits at every start: the apply keeps waiting
    for the API server (the conductor times the operation out), saying what etcd said, and
    observation names the master and the programs that do not run."""
    spec, pki = cluster
    spec = with_workers(spec, 0)
    converge(driver, spec, pki)
    master = members(driver, spec)["default-master-0"]
    daemons.stop(master, agents.APISERVER, timeout=5)
    daemons.stop(master, agents.ETCD, timeout=5)
    in_node(master, f"rm -rf {layout.ETCD_DATA} && touch {layout.ETCD_DATA}")
    with pytest.raises(TemporaryError, match="Waiting for the API server to answer"):
        driver.apply(spec, pki)
    seen = driver.observe(spec, pki)
    status = seen.nodes[0]
    assert status.name == "default-master-0" and status.healthy is False
    assert "etcd" in status.reason and "API server not answering" in status.reason
    assert "data-dir" in daemons.log_tail(master, agents.ETCD, 20) or \
        "not a directory" in daemons.log_tail(master, agents.ETCD, 20)


def test_pods_pull_from_the_cluster_registry(driver: LocalKubernetesDriver, tmp_path: Path,
                                             cluster: tuple[ClusterSpec, TinyPKI]) -> None:
    """With ``registry_enabled`` the cluster's registry holds busybox and every node's engine
    trusts it: a pod that must pull (imagePullPolicy Always) runs from it."""
    spec, pki = cluster
    spec = dataclasses.replace(with_workers(spec, 1), registry_enabled=True)
    observed = converge(driver, spec, pki)
    allocation = driver.nodes.allocation(spec.uuid)
    assert allocation is not None
    image = driver.nodes.registry(spec.uuid, allocation).image
    kubectl = Kubectl(pki, str(observed.api_address), tmp_path / "user")
    kubectl.run("run", "pulled", f"--image={image}", "--image-pull-policy=Always",
                "--command", "--", "sleep", "3600")
    pod = eventually(lambda: (p := kubectl.json("get", "pod", "pulled"))["status"].get(
        "phase") == "Running" and p, timeout=60, what="the pod pulled from the registry")
    assert pod["status"]["containerStatuses"][0]["image"] == image


OPEN_POLICY = """
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: open}
spec:
  privileged: true
  hostNetwork: true
  hostPID: true
  allowedCapabilities: ["*"]
  volumes: ["*"]
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: open}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use],
         resourceNames: [open]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: open}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: open}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]
"""


def test_a_cluster_admin_who_opens_the_policy_stays_inside_the_node(
        driver: LocalKubernetesDriver, tmp_path: Path,
        cluster: tuple[ClusterSpec, TinyPKI]) -> None:
    """The kubeconfig Magna hands out is the cluster's admin, who may replace the pod security
    policy. The node still holds: the API server refuses privileged pods by flag, the engine
    refuses host namespaces (user remapping), and a hostPath of / is the node's own root, seen
    as an unprivileged host user."""
    spec, pki = cluster
    spec = with_workers(spec, 1)
    observed = converge(driver, spec, pki)
    admin = Kubectl(pki, str(observed.api_address), tmp_path / "admin")
    admin.run("apply", "-f", "-", stdin=OPEN_POLICY)

    privileged = {"containers": [{"name": "c", "image": "magna/busybox:latest",
                                  "securityContext": {"privileged": True}}]}
    done = eventually(lambda: (d := admin.run(
        "run", "priv", "--image=magna/busybox:latest",
        "--overrides=" + json.dumps({"spec": privileged}), check=False)).returncode != 0
        and "privileged" in d.stderr.lower() and "PodSecurityPolicy" not in d.stderr and d,
        timeout=30, what="a refusal by the API server's flag, not by the policy")
    assert "Forbidden" in done.stderr or "Invalid" in done.stderr, done.stderr

    for name, host in (("hostnet", {"hostNetwork": True}), ("hostpid", {"hostPID": True})):
        pod = {**host, "containers": [{"name": "c", "image": "magna/busybox:latest",
                                       "imagePullPolicy": "Never", "command": ["sleep", "99"]}]}
        admin.run("run", name, "--image=magna/busybox:latest",
                  "--overrides=" + json.dumps({"spec": pod}))
    for name, words in (("hostnet", "network namespace"), ("hostpid", "PID namespace")):
        eventually(lambda name=name, words=words: any(
            words in e["message"] and "user namespaces" in e["message"]
            for e in admin.json("get", "events", "--field-selector",
                                f"involvedObject.name={name}")["items"]),
                   timeout=60, what=f"the engine's refusal of {name}")
        phase = admin.json("get", "pod", name)["status"]["phase"]
        assert phase == "Pending", (name, phase)

    script = ("cat /proc/self/uid_map; ls /host; ls /host/etc/kubernetes/pki; echo pki=$?; "
              "cat /host/etc/kubernetes/kubelet.conf; echo conf=$?; sleep 3600")
    pod = {"volumes": [{"name": "h", "hostPath": {"path": "/"}}],
           "containers": [{"name": "c", "image": "magna/busybox:latest",
                           "imagePullPolicy": "Never", "command": ["sh", "-c", script],
                           "volumeMounts": [{"name": "h", "mountPath": "/host"}],
                           "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]}
    admin.run("run", "rootfs", "--image=magna/busybox:latest",
              "--overrides=" + json.dumps({"spec": pod}))
    logs = eventually(lambda: (out := admin.run("logs", "rootfs", check=False).stdout)
                      and "conf=" in out and out, timeout=60, what="the probe's output")
    uid_map = next(line.split() for line in logs.splitlines()
                   if len(line.split()) == 3 and all(f.isdigit() for f in line.split()))
    assert uid_map[0] == "0" and int(uid_map[1]) >= 1 << 20, logs  # root is a remapped user
    # the node's credentials are the node's root's, not the container root's
    assert "pki=1" in logs and "conf=1" in logs and "Permission denied" in logs, logs
    assert "opt" in logs and "home" not in logs.split("pki=")[0], logs  # the node's root
