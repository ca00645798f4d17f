"""Nodegroup rules: counts, node labels, node taints and patching, input → output."""

from __future__ import annotations

from typing import Any

import pytest

from magna.common.exceptions import Conflict, Invalid
from magna.db import models
from magna.services import nodegroups as rules


@pytest.mark.parametrize(("node", "low", "high"), [
    (1, 0, None), (0, 0, None), (3, 3, 3), (2, 1, 5), (0, 0, 0), (100, 0, None)])
def test_consistent_counts_pass(node: int, low: int, high: int | None) -> None:
    rules.check_counts("ng", node_count=node, min_node_count=low, max_node_count=high)


@pytest.mark.parametrize(("node", "low", "high", "message"), [
    (1, 3, None, "min_node_count for ng is invalid (min_node_count (3) should be less or "
                 "equal to node_count (1))."),
    (4, 0, 3, "max_node_count for ng is invalid (node_count (4) should be less or equal to "
              "max_node_count (3))."),
    (2, 3, 2, "max_node_count for ng is invalid (min_node_count (3) should be less or equal "
              "to max_node_count (2))."),
    (1, 0, 0, "max_node_count for ng is invalid (node_count (1) should be less or equal to "
              "max_node_count (0))."),
])
def test_inconsistent_counts_are_conflicts(node: int, low: int, high: int | None,
                                           message: str) -> None:
    with pytest.raises(Conflict) as caught:
        rules.check_counts("ng", node_count=node, min_node_count=low, max_node_count=high)
    assert caught.value.message == message


@pytest.mark.parametrize(("key", "allowed"), [
    ("env", True), ("example.com/team", True), ("notkubernetes.io/x", True),
    ("node.kubernetes.io/pool", True), ("a.node.kubernetes.io/pool", True),
    ("kubelet.kubernetes.io/x", True), ("kubernetes.io/os", True),
    ("failure-domain.beta.kubernetes.io/zone", True), ("node.kubernetes.io/windows-build", True),
    ("kubernetes.io/role", False), ("node-role.kubernetes.io/master", False),
    ("k8s.io/x", False), ("x.k8s.io/y", False), ("beta.kubernetes.io/fluentd", False),
    ("topology.kubernetes.io/rack", False),
])
def test_label_key_namespaces(key: str, allowed: bool) -> None:
    assert rules.label_key_allowed(key) is allowed


def test_node_labels_are_stringified() -> None:
    assert rules.check_node_labels("ng", "worker", {"a": 1, "b": True, "c": "x"}) == {
        "a": "1", "b": "True", "c": "x"}


@pytest.mark.parametrize(("role", "labels", "fragment"), [
    ("master", {"a": "b"}, "not supported on master"),
    ("worker", {"kubernetes.io/role": "x"}, "node label 'kubernetes.io/role' is in a reserved"),
    ("worker", {"": "x"}, "node label '' is not a non-empty string"),
    ("worker", {1: "x"}, "node label 1 is not"),
    ("worker", {"a": None}, "value of node label 'a'"),
    ("worker", {"a": {"b": "c"}}, "value of node label 'a'"),
])
def test_bad_node_labels_are_conflicts(role: str, labels: dict[Any, Any], fragment: str
                                       ) -> None:
    with pytest.raises(Conflict) as caught:
        rules.check_node_labels("ng", role, labels)
    assert caught.value.message.startswith("node_labels for ng is invalid (")
    assert fragment in caught.value.message


def test_master_nodegroups_may_have_empty_labels_and_taints() -> None:
    assert rules.check_node_labels("m", "master", {}) == {}
    assert rules.check_node_taints("m", "master", []) == []


def test_node_taints_are_normalised() -> None:
    taints = [{"key": "a", "effect": "NoSchedule"},
              {"key": "b", "value": "v", "effect": "PreferNoSchedule"},
              {"key": "c", "value": None, "effect": "NoExecute"}]
    assert rules.check_node_taints("ng", "worker", taints) == [
        {"key": "a", "value": "", "effect": "NoSchedule"},
        {"key": "b", "value": "v", "effect": "PreferNoSchedule"},
        {"key": "c", "value": "", "effect": "NoExecute"}]


@pytest.mark.parametrize(("role", "taint", "fragment"), [
    ("master", {"key": "a", "effect": "NoSchedule"}, "not supported on master"),
    ("worker", "a=b:NoSchedule", "is not an object"),
    ("worker", {"key": "a", "effect": "NoSchedule", "operator": "Exists"},
     "unknown attributes operator"),
    ("worker", {"effect": "NoSchedule"}, "needs a non-empty key"),
    ("worker", {"key": "", "effect": "NoSchedule"}, "needs a non-empty key"),
    ("worker", {"key": 3, "effect": "NoSchedule"}, "needs a non-empty key"),
    ("worker", {"key": "a", "value": ["v"], "effect": "NoSchedule"}, "value of taint 'a'"),
    ("worker", {"key": "a", "effect": "noschedule"}, "effect of taint 'a' should be one of"),
    ("worker", {"key": "a"}, "effect of taint 'a'"),
])
def test_bad_node_taints_are_conflicts(role: str, taint: Any, fragment: str) -> None:
    with pytest.raises(Conflict) as caught:
        rules.check_node_taints("ng", role, [taint])
    assert caught.value.message.startswith("node_taints for ng is invalid (")
    assert fragment in caught.value.message


@pytest.mark.parametrize(("value", "expected"), [(0, 0), (3, 3), ("4", 4)])
def test_count_values(value: Any, expected: int) -> None:
    assert rules.count_value(value, "min_node_count") == expected


@pytest.mark.parametrize(("value", "fragment"), [
    (-1, "greater or equal to 0"), ("-1", "greater or equal to 0"), ("x", "an integer"),
    (True, "an integer"), (1.5, "an integer"), (None, "an integer"), ([1], "an integer")])
def test_bad_count_values(value: Any, fragment: str) -> None:
    with pytest.raises(Invalid) as caught:
        rules.count_value(value, "max_node_count")
    assert caught.value.message.startswith("Invalid input for field/attribute max_node_count.")
    assert fragment in caught.value.message


def _nodegroup(**overrides: Any) -> models.NodeGroup:
    values: dict[str, Any] = {"name": "ng", "role": "worker", "node_count": 2,
                              "min_node_count": 0, "max_node_count": None, "node_labels": {},
                              "node_taints": []}
    values.update(overrides)
    return models.NodeGroup(**values)


def test_patched_returns_only_what_changed() -> None:
    ops = [{"op": "replace", "path": "/min_node_count", "value": 1},
           {"op": "replace", "path": "/max_node_count", "value": None},
           {"op": "replace", "path": "/node_labels", "value": "{'env': 'dev'}"}]
    assert rules.patched(_nodegroup(), ops) == {"min_node_count": 1,
                                                "node_labels": {"env": "dev"}}


def test_patched_removal_restores_defaults() -> None:
    row = _nodegroup(min_node_count=1, max_node_count=4, node_labels={"a": "b"},
                     node_taints=[{"key": "k", "value": "", "effect": "NoSchedule"}])
    ops = [{"op": "remove", "path": f"/{name}"} for name in
           ("min_node_count", "max_node_count", "node_labels", "node_taints")]
    assert rules.patched(row, ops) == {"min_node_count": 0, "max_node_count": None,
                                       "node_labels": {}, "node_taints": []}


@pytest.mark.parametrize("path", ["/node_count", "/name", "/role", "/labels", "/anything"])
def test_patched_refuses_other_fields_as_internal(path: str) -> None:
    with pytest.raises(Invalid) as caught:
        rules.patched(_nodegroup(), [{"op": "replace", "path": path, "value": 1}])
    assert caught.value.message == f"'{path}' is an internal attribute and can not be updated"


def test_patched_checks_counts_against_the_current_node_count() -> None:
    with pytest.raises(Conflict, match=r"node_count \(2\) should be less or equal to "
                                       r"max_node_count \(1\)"):
        rules.patched(_nodegroup(), [{"op": "replace", "path": "/max_node_count", "value": 1}])
