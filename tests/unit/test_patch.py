"""Magnum's JSON-patch rules, input to output."""

from __future__ import annotations

import pytest

from magna.common.exceptions import Invalid
from magna.domain import patch

DOC = {"uuid": "u", "name": "a", "labels": {"x": "1"}, "tags": None, "coe": "swarm-mode"}


def test_replace_add_and_remove_apply_like_rfc6902() -> None:
    result = patch.apply(DOC, [{"op": "replace", "path": "/name", "value": "b"},
                               {"op": "add", "path": "/labels/y", "value": "2"},
                               {"op": "remove", "path": "/labels/x"},
                               {"op": "add", "path": "/tags", "value": "t"}])
    assert result["name"] == "b"
    assert result["labels"] == {"y": "2"}
    assert result["tags"] == "t"
    assert DOC["name"] == "a", "the input document is not modified"


def test_removing_a_top_level_attribute_sets_it_to_none() -> None:
    assert patch.apply(DOC, [{"op": "remove", "path": "/name"}])["name"] is None


@pytest.mark.parametrize(("ops", "message"), [
    ({"op": "replace"}, "not a valid list"),
    ([{"op": "move", "path": "/name", "value": 1}], "Value should be one of"),
    ([{"op": "replace", "path": "name", "value": 1}], "Invalid patch path"),
    ([{"op": "replace", "path": "/labels/a.b", "value": 1}], "Invalid patch path"),
    ([{"op": "replace", "path": "/name"}], "need a value"),
    ([{"op": "replace", "path": "/uuid", "value": "x"}], "internal attribute"),
    ([{"op": "remove", "path": "/coe"}], "mandatory attribute"),
    ([{"op": "add", "path": "/nope", "value": 1}], "not allowed"),
    ([{"op": "add", "path": "/name", "value": "c"}], "has existed"),
    ([{"op": "remove", "path": "/labels/absent"}], "Couldn't apply patch"),
    ([{"op": "replace", "path": "/name", "value": 1, "extra": 2}], "Unknown attribute"),
    (["not-an-object"], "must be an object"),
    ([{"op": "move", "from": "/name", "path": "/id"}], "Unknown attribute"),
    ([{"op": "move", "from": "/uuid", "path": "/name"}], "Unknown attribute"),
    ([{"op": "copy", "from": "/uuid", "path": "/id"}], "Unknown attribute"),
])
def test_invalid_patches_are_400s_with_magnums_wording(ops: object, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        patch.apply(DOC, ops, mandatory=["/coe"])
    assert message in caught.value.message


def test_changed_fields_lists_only_differences() -> None:
    after = {**DOC, "name": "z"}
    assert patch.changed_fields(DOC, after) == {"name"}


def test_the_sdks_uuid_to_id_move_is_a_no_op_before_the_real_operations() -> None:
    ops = [{"op": "move", "from": "/uuid", "path": "/id"},
           {"op": "replace", "path": "/name", "value": "b"}]
    result = patch.apply(DOC, ops)
    assert result == {**DOC, "name": "b"}
    assert patch.apply(DOC, ops[:1]) == DOC
