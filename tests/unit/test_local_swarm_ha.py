"""Pure rules of the local Swarm driver's HA pieces: HAProxy's configuration, the order in which
nodes leave a shrinking swarm without losing the raft quorum, per-node health reasons and the
planner's treatment of nodes that auto-healing replaces."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.local_nodes import balancer, healing
from magna.drivers.local_nodes.pki import server_request
from magna.drivers.local_nodes.planning import planned_names
from magna.drivers.local_swarm import quorum
from magna.drivers.local_swarm.swarm import SwarmNode


def manager(name: str, *, reachable: bool = True, leader: bool = False) -> SwarmNode:
    return SwarmNode(hostname=name, node_id=f"id-{name}", role="manager",
                     state="ready" if reachable else "down", message="",
                     availability="active",
                     reachability="reachable" if reachable else "unreachable", leader=leader)


def worker(name: str) -> SwarmNode:
    return SwarmNode(hostname=name, node_id=f"id-{name}", role="worker", state="ready",
                     message="", availability="active")


def view(*nodes: SwarmNode) -> dict[str, SwarmNode]:
    return {node.node_id: node for node in nodes}


def test_haproxy_config_passes_tls_through_to_every_manager_with_health_checks() -> None:
    text = balancer.build_config("magna-1234abcd", "10.231.5.1", ["10.231.5.2", "10.231.5.3"])
    assert "    mode tcp\n" in text
    assert "    bind 10.231.5.1:2375\n" in text
    assert "    server m0 10.231.5.2:2375 check inter 1s fall 2 rise 1\n" in text
    assert "    server m1 10.231.5.3:2375 check inter 1s fall 2 rise 1\n" in text
    assert "option redispatch" in text
    assert "ssl" not in text  # no termination: the engines' mutual TLS goes end to end
    assert text == balancer.build_config("magna-1234abcd", "10.231.5.1",
                                         ["10.231.5.2", "10.231.5.3"])


def test_workers_leave_first_then_managers_with_the_leader_last() -> None:
    swarm = view(manager("m0"), manager("m1", leader=True), manager("m2"), manager("m3"),
                 manager("m4", reachable=False), worker("w0"))
    assert quorum.leaving_order(swarm, ["m1", "m3", "w0", "m4", "gone"]) == [
        "gone", "w0", "m4", "m3", "m1"]
    assert quorum.next_to_leave(swarm, ["m1", "m2"]) == "m2"


def test_a_demotion_that_would_lose_the_quorum_waits() -> None:
    # 3 managers, one down: demoting a reachable one leaves 1 of 2 reachable (no majority),
    # demoting the unreachable one leaves 2 of 2.
    swarm = view(manager("m0", leader=True), manager("m1"), manager("m2", reachable=False))
    assert not quorum.safe_to_demote(swarm, "m1")
    assert quorum.safe_to_demote(swarm, "m2")
    assert quorum.next_to_leave(swarm, ["m1"]) is None
    assert quorum.next_to_leave(swarm, ["m1", "m2"]) == "m2"
    # 5 -> 3 with everyone up: any non-leader may go, one at a time.
    five = view(*(manager(f"m{i}", leader=i == 0) for i in range(5)))
    assert quorum.next_to_leave(five, ["m0", "m3", "m4"]) == "m3"
    # the last manager never goes
    assert not quorum.safe_to_demote(view(manager("m0", leader=True)), "m0")


def test_auto_healing_label_and_retired_nodes_get_new_names() -> None:
    spec = ClusterSpec(uuid="u", name="c", project_id=None, coe="swarm-mode", generation=1,
                       template_uuid="t", image_id="i", labels={"auto_healing_enabled": "True"},
                       nodegroups=(NodeGroupSpec(uuid="m", name="default-master", role="master",
                                                 node_count=1, flavor_id=None, image_id=None),
                                   NodeGroupSpec(uuid="w", name="default-worker", role="worker",
                                                 node_count=2, flavor_id=None, image_id=None)))
    assert healing.auto_healing(spec)
    existing = ["default-master-0", "default-worker-0", "default-worker-1"]
    names = [name for name, _, _ in planned_names(spec, existing, ["default-worker-1"])]
    assert names == ["default-master-0", "default-worker-0", "default-worker-2"]
    # once the old node is gone, its name is free again and nothing else moves
    names = [name for name, _, _ in planned_names(spec, ["default-master-0", "default-worker-0",
                                                         "default-worker-2"])]
    assert names == ["default-master-0", "default-worker-0", "default-worker-2"]


def test_retired_names_are_recorded_once_and_forgotten(tmp_path: Path) -> None:
    directory = str(tmp_path)
    healing.retire(directory, ["w-1"])
    healing.retire(directory, ["w-1", "w-3"])
    assert healing.retired(directory) == ["w-1", "w-3"]
    healing.forget(directory, "w-1")
    assert healing.retired(directory) == ["w-3"]


def test_managers_certificates_name_the_balancer_address() -> None:
    assert server_request("h", "10.0.0.2", "10.0.0.1").sans == (
        "10.0.0.2", "127.0.0.1", "h", "10.0.0.1")
    assert server_request("h", "10.0.0.2").sans == ("10.0.0.2", "127.0.0.1", "h")


def test_an_engine_is_stuck_only_when_it_answers_yet_stays_down_past_the_grace() -> None:
    from magna.drivers.local_swarm import health

    late = health.STUCK_AFTER + 1
    assert health.stuck(True, "down active heartbeat failure", late)
    assert not health.stuck(True, "down active heartbeat failure", health.STUCK_AFTER - 1)
    assert not health.stuck(False, "engine not answering; down active", late)  # dead: restart
    assert not health.stuck(True, "ready pause", late)
    assert not health.stuck(True, "manager unreachable", late)


def test_a_nodes_health_reasons_come_from_its_engine_and_the_managers_view(
        tmp_path: Path) -> None:
    from magna.drivers.local_swarm.health import problems_of
    from tests.support.local_nodes import make_node

    master = make_node(tmp_path, role="master",
                       engine=dataclasses.replace(make_node(tmp_path).engine, hostname="m"))
    assert problems_of(master, True, view(manager("m")), "active") == []
    assert problems_of(master, False, {}, "active") == ["engine not answering",
                                                        "no manager answers"]
    assert problems_of(master, True, view(worker("other")), "active") == ["not in the swarm"]
    assert problems_of(master, True, view(manager("m", reachable=False)), "active") == [
        "down active", "manager unreachable"]
    # a tainted node is healthy while paused, as its taints ask
    paused = dataclasses.replace(manager("m"), availability="pause")
    assert problems_of(master, True, view(paused), "pause") == []
    assert problems_of(master, True, view(paused), "active") == ["ready pause"]
