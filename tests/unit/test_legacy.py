"""The bay/baymodel vocabulary translations: pure input -> output."""

from __future__ import annotations

import pytest

from magna.api.resources import legacy
from magna.common.exceptions import Conflict, Invalid, NotAuthorized, NotFound


def test_bay_requests_use_cluster_names_in_the_same_order() -> None:
    values = {"name": "b", "baymodel_id": "t", "bay_create_timeout": 5, "node_count": 2}
    assert list(legacy.to_cluster(values).items()) == [
        ("name", "b"), ("cluster_template_id", "t"), ("create_timeout", 5), ("node_count", 2)]


def test_cluster_views_use_bay_names_and_stack_id() -> None:
    body = {"uuid": "u", "cluster_template_id": "t", "create_timeout": 60, "cluster_id": "s",
            "faults": {}}
    assert list(legacy.to_bay(body)) == ["uuid", "baymodel_id", "bay_create_timeout",
                                         "stack_id", "bay_faults"]


@pytest.mark.parametrize(("path", "expected"), [
    ("/baymodel_id", "/cluster_template_id"),
    ("/bay_create_timeout", "/create_timeout"),
    ("/node_count", "/node_count"),
    ("/labels/baymodel_id", "/labels/baymodel_id"),
    ("/baymodel_idx", "/baymodel_idx"),
    ("baymodel_id", "baymodel_id"),
])
def test_patch_paths_are_rewritten_onto_the_cluster(path: str, expected: str) -> None:
    op = {"op": "replace", "path": path, "value": 1}
    assert legacy.bay_patch([op]) == [{**op, "path": expected}]


@pytest.mark.parametrize("ops", [{"op": "replace"}, "text", None, [1, {"path": 3}]])
def test_patches_that_are_not_lists_of_operations_pass_through(ops: object) -> None:
    assert legacy.bay_patch(ops) == ops


@pytest.mark.parametrize(("message", "expected"), [
    ("Cluster x could not be found.", "Bay x could not be found."),
    ("ClusterTemplate x y could not be found.", "Baymodel x y could not be found."),
    ("ClusterTemplate t is referenced by one or multiple clusters.",
     "Baymodel t is referenced by one or multiple bays."),
    ("Multiple clusters exist with same name. Please use the cluster uuid instead.",
     "Multiple bays exist with same name. Please use the bay uuid instead."),
    ("Multiple clustertemplates exist with same name. Please use the clustertemplate uuid "
     "instead.", "Multiple baymodels exist with same name. Please use the baymodel uuid "
     "instead."),
    ("Nodegroup x could not be found.", "Nodegroup x could not be found."),
    ("cannot change cluster property(ies) name.", "cannot change cluster property(ies) name."),
])
def test_messages_are_reworded_with_legacy_nouns(message: str, expected: str) -> None:
    assert legacy.reword(message) == expected


@pytest.mark.parametrize("error", [NotFound, Invalid, Conflict])
def test_legacy_nouns_reraises_the_same_kind_of_error(error: type[NotFound]) -> None:
    with pytest.raises(error) as caught, legacy.legacy_nouns():
        raise error("Cluster c1 could not be found.")
    assert caught.value.message == "Bay c1 could not be found."
    assert caught.value.status == error.status


def test_legacy_nouns_leaves_other_errors_alone() -> None:
    original = NotAuthorized("Cluster c1 could not be found.")
    with pytest.raises(NotAuthorized) as caught, legacy.legacy_nouns():
        raise original
    assert caught.value is original
    unrelated = NotFound("Marker m could not be found.")
    with pytest.raises(NotFound) as caught_nf, legacy.legacy_nouns():
        raise unrelated
    assert caught_nf.value is unrelated
