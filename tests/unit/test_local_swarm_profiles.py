"""The local Swarm driver's pure decisions: node labels and taints, flavor limits, engine
settings from the template, and how a rollout batches and guards the quorum."""

from __future__ import annotations

import pytest

from magna.common.exceptions import PermanentError
from magna.drivers.base import ClusterSpec, NodeGroupSpec
from magna.drivers.local_nodes import engine, limits, planning
from magna.drivers.local_nodes.catalog import FLAVORS
from magna.drivers.local_swarm import profile, rollout


def _spec(**overrides: object) -> ClusterSpec:
    fields: dict[str, object] = dict(
        uuid="u", name="c", project_id="p", coe="swarm-mode", generation=1, template_uuid="t",
        image_id="9a1d3c52-6f0e-4d5b-9d0a-1f2f6b3a5c01", labels={}, nodegroups=())
    fields.update(overrides)
    return ClusterSpec(**fields)  # type: ignore[arg-type]


def _group(**overrides: object) -> NodeGroupSpec:
    fields: dict[str, object] = dict(uuid="g", name="gpu", role="worker", node_count=1,
                                     flavor_id="3", image_id=None)
    fields.update(overrides)
    return NodeGroupSpec(**fields)  # type: ignore[arg-type]


def test_labels_name_the_nodegroup_role_image_flavor_and_the_users_labels() -> None:
    got = profile.profile_for(_spec(), _group(node_labels={"zone": "a", "disk": "ssd"}))
    assert got.flavor is not None and (got.flavor.vcpus, got.flavor.ram_mb) == (2, 4096)
    assert got.labels == {"magna.nodegroup": "gpu", "magna.role": "worker",
                          "magna.image": "debian-12-docker", "magna.flavor": "m1.medium",
                          "zone": "a", "disk": "ssd", "magna.node-labels": "disk,zone"}
    assert got.availability == "active"


def test_the_nodegroup_image_wins_over_the_cluster_one_and_unknown_names_pass_through() -> None:
    assert planning.image_name(_spec(), _group(image_id="fedora-atomic-latest")) == \
        "fedora-atomic-latest"
    assert planning.image_name(_spec(image_id="custom"), None) == "custom"


def test_a_nodegroup_without_flavor_has_no_flavor_label_and_no_limits() -> None:
    got = profile.profile_for(_spec(), _group(flavor_id=None))
    assert got.flavor is None and "magna.flavor" not in got.labels
    assert limits.for_flavor(None, 100000) == limits.Limits(-1, -1)


@pytest.mark.parametrize(("effects", "availability"), [
    ([], "active"), (["NoSchedule"], "pause"), (["PreferNoSchedule"], "pause"),
    (["NoExecute"], "drain"), (["NoSchedule", "NoExecute", "PreferNoSchedule"], "drain")])
def test_taints_map_to_the_strongest_availability(effects: list[str],
                                                   availability: str) -> None:
    taints = [{"key": f"k{i}", "value": "v", "effect": e} for i, e in enumerate(effects)]
    assert profile.availability_for(taints) == availability


def test_each_taint_is_also_a_label() -> None:
    taints = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"},
              {"key": "spot", "value": "", "effect": "NoExecute"}]
    got = profile.profile_for(_spec(), _group(node_taints=taints))
    assert got.labels["taint.dedicated"] == "db:NoSchedule"
    assert got.labels["taint.spot"] == ":NoExecute"
    assert got.availability == "drain"


def test_merging_replaces_owned_labels_and_keeps_foreign_ones() -> None:
    current = {"magna.flavor": "m1.small", "taint.old": "x:NoSchedule", "zone": "a",
               "magna.node-labels": "zone", "mine": "kept"}
    wanted = {"magna.flavor": "m1.large", "magna.role": "worker"}
    assert profile.merged_labels(current, wanted) == {
        "mine": "kept", "magna.flavor": "m1.large", "magna.role": "worker"}
    assert profile.merged_labels(wanted, wanted) == wanted


def test_flavor_limits_are_quota_per_period_and_mebibytes() -> None:
    small = next(f for f in FLAVORS if f.name == "m1.small")
    assert limits.for_flavor(small, 100000) == limits.Limits(100000, 2048 * 1024 * 1024)
    assert planning.flavor_of("4") == planning.flavor_of("m1.large")
    with pytest.raises(PermanentError, match="Unable to find flavor m9"):
        planning.flavor_of("m9")


def test_the_template_proxies_become_the_engine_environment() -> None:
    spec = _spec(http_proxy="http://p:3128", no_proxy="10.0.0.0/8")
    assert planning.engine_environment(spec) == (("HTTP_PROXY", "http://p:3128"),
                                                ("NO_PROXY", "10.0.0.0/8"))
    assert planning.engine_environment(_spec()) == ()


def _engine(**overrides: object) -> engine.EngineSpec:
    fields: dict[str, object] = dict(node_dir="/n", run_dir="/r", hostname="h", netns="ns",
                                     address="10.0.0.2", cgroup_parent="/magna/x/n")
    fields.update(overrides)
    return engine.EngineSpec(**fields)  # type: ignore[arg-type]


def test_dns_proxies_and_image_are_part_of_what_the_engine_started_with() -> None:
    base = _engine()
    assert "dns" not in base.build()
    assert _engine(dns=("10.0.0.53",)).build()["dns"] == ["10.0.0.53"]
    hashes = {engine.desired_hash(e, "certs") for e in (
        base, _engine(dns=("10.0.0.53",)), _engine(environment=(("HTTP_PROXY", "x"),)),
        _engine(labels=("magna.image=other",)))}
    assert len(hashes) == 4
    assert engine.desired_hash(base, "certs") != engine.desired_hash(base, "new certs")


def _member(name: str, manager: bool = False) -> rollout.Member:
    return rollout.Member(name=name, manager=manager, engine=_engine(), config_hash="h",
                          availability="active")


def test_managers_go_alone_then_workers_in_batches() -> None:
    members = [_member("w0"), _member("m0", True), _member("w1"), _member("m1", True),
               _member("w2")]
    names = [[m.name for m in batch] for batch in rollout.batches(members, 2)]
    assert names == [["m0"], ["m1"], ["w0", "w1"], ["w2"]]
    assert [len(b) for b in rollout.batches(members, 0)] == [1, 1, 1, 1, 1]
    assert rollout.batches([], 3) == []


@pytest.mark.parametrize(("managers", "others_ready", "kept"), [
    (1, 0, True), (3, 2, True), (3, 1, False), (5, 3, True), (5, 2, False), (2, 1, False)])
def test_a_manager_restarts_only_while_the_others_keep_quorum(managers: int, others_ready: int,
                                                              kept: bool) -> None:
    assert rollout.quorum_kept(managers, others_ready) is kept
