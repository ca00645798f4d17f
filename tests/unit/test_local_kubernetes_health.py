"""Node health of a Kubernetes cluster from Node objects shaped as Kubernetes 1.20 returns them
(written by hand from the v1 Node schema), and how it renders in Magnum's health reason."""

from __future__ import annotations

from typing import Any

from magna.domain import clusters
from magna.drivers.local_kubernetes import health
from magna.drivers.local_kubernetes.health import ExpectedNode

MASTER = ExpectedNode("c-master-0", "default-master", "master", "10.0.0.2", "c-master-0")
WORKER = ExpectedNode("c-node-0", "default-worker", "worker", "10.0.0.3", "c-node-0")


def make_node(name: str, ready: str = "True", reason: str = "KubeletReady",
              message: str = "kubelet is posting ready status") -> dict[str, Any]:
    return {
        "kind": "Node", "apiVersion": "v1",
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "812",
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
        "spec": {"podCIDR": "10.100.0.0/24", "podCIDRs": ["10.100.0.0/24"]},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False",
                 "reason": "KubeletHasSufficientMemory",
                 "message": "kubelet has sufficient memory available",
                 "lastHeartbeatTime": "2026-12-06T06:20:00Z",
                 "lastTransitionTime": "2026-12-06T06:10:00Z"},
                {"type": "Ready", "status": ready, "reason": reason, "message": message,
                 "lastHeartbeatTime": "2026-12-06T06:20:00Z",
                 "lastTransitionTime": "2026-12-06T06:10:00Z"},
            ],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.2"},
                          {"type": "Hostname", "address": name}],
            "nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2"},
        },
    }


def test_ready_nodes_are_healthy_and_render_as_magnum_does() -> None:
    got = health.node_statuses([make_node("c-master-0"), make_node("c-node-0")],
                               [MASTER, WORKER], {"c-master-0": True})
    assert [(s.name, s.nodegroup, s.role, s.address, s.healthy) for s in got] == [
        ("c-master-0", "default-master", "master", "10.0.0.2", True),
        ("c-node-0", "default-worker", "worker", "10.0.0.3", True)]
    assessed = clusters.assess("https://10.0.0.2:6443", [s.health for s in got])
    assert assessed.status == clusters.HEALTHY
    assert clusters.health_reason(assessed.conditions) == {
        "api": "ok", "c-master-0.Ready": "True", "c-node-0.Ready": "True"}


def test_a_node_not_ready_says_why_in_the_kubelets_words() -> None:
    stopped = make_node("c-node-0", ready="Unknown", reason="NodeStatusUnknown",
                        message="Kubelet stopped posting node status.")
    got = health.node_statuses([make_node("c-master-0"), stopped], [MASTER, WORKER])
    assert got[0].healthy is True
    assert got[1].healthy is False
    assert got[1].reason == \
        "Ready is Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)"
    assessed = clusters.assess("https://10.0.0.2:6443", [s.health for s in got])
    assert assessed.status == clusters.UNHEALTHY
    assert clusters.health_reason(assessed.conditions)["c-node-0.Ready"].startswith(
        "False: Ready is Unknown")


def test_an_absent_node_is_not_registered_and_one_without_conditions_not_ready_yet() -> None:
    fresh = make_node("c-master-0")
    fresh["status"]["conditions"] = []
    got = health.node_statuses([fresh], [MASTER, WORKER])
    assert [(s.healthy, s.reason) for s in got] == [
        (False, "no Ready condition reported yet"), (False, health.NOT_REGISTERED)]


def test_a_master_whose_own_api_server_is_down_is_named_though_another_answers() -> None:
    other = ExpectedNode("c-master-1", "default-master", "master", "10.0.0.4", "c-master-1")
    got = health.node_statuses([make_node("c-master-0"), make_node("c-master-1")],
                               [MASTER, other], {"c-master-0": False, "c-master-1": True})
    assert [(s.name, s.healthy, s.reason) for s in got] == [
        ("c-master-0", False, health.API_DOWN), ("c-master-1", True, "")]


def test_with_no_api_server_answering_every_node_is_unhealthy_as_in_swarm_mode() -> None:
    got = health.node_statuses(None, [MASTER, WORKER], {"c-master-0": False})
    assert [(s.healthy, s.reason) for s in got] == [
        (False, f"{health.API_DOWN}; {health.NO_API}"), (False, health.NO_API)]


def test_a_node_registered_under_its_hostname_is_found_and_plain_tuples_are_accepted() -> None:
    expected = ("c-node-0", "default-worker", "worker", "10.0.0.3", "c-node-0.cluster")
    got = health.node_statuses([make_node("c-node-0.cluster")], [expected])
    assert got[0].healthy is True and got[0].name == "c-node-0"


def test_strays_are_registered_nodes_the_spec_no_longer_has() -> None:
    seen = [make_node("c-master-0"), make_node("c-node-0"), make_node("c-node-1")]
    assert health.strays(seen, [MASTER, WORKER]) == ["c-node-1"]
