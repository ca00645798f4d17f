"""Query-string flags parsed as WSME's types did: pure input -> output."""

from __future__ import annotations

import pytest

from magna.api import params
from magna.common.exceptions import Invalid


@pytest.mark.parametrize("value", ["1", "t", "True", "TRUE", "on", "y", "yes", " true "])
def test_true_spellings(value: str) -> None:
    assert params.boolean(value, "flag") is True


@pytest.mark.parametrize("value", ["0", "f", "False", "off", "n", "NO"])
def test_false_spellings(value: str) -> None:
    assert params.boolean(value, "flag", default=True) is False


@pytest.mark.parametrize(("value", "default"), [(None, False), ("", True)])
def test_absent_flags_take_the_default(value: str | None, default: bool) -> None:
    assert params.boolean(value, "flag", default=default) is default


def test_nonsense_flags_are_invalid() -> None:
    with pytest.raises(Invalid, match=r"field/attribute all_tenants\. Value: 'maybe'"):
        params.boolean("maybe", "all_tenants")


@pytest.mark.parametrize(("value", "expected"), [("12", 12), ("-1", -1), (None, None),
                                                 ("", None)])
def test_integers(value: str | None, expected: int | None) -> None:
    assert params.integer(value, "marker") == expected


def test_nonsense_integers_are_invalid() -> None:
    with pytest.raises(Invalid, match=r"field/attribute marker\. Value: 'abc'"):
        params.integer("abc", "marker")
