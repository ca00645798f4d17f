"""Federation rules: DNS zones, properties, who may host or join, Magnum's join/unjoin shorthand."""

from __future__ import annotations

import pytest

from magna.common.exceptions import Conflict, Invalid, NotFound
from magna.domain import federations as rules

UUIDS = {"a": "aaaaaaaa-0000-0000-0000-000000000001", "b": "bbbbbbbb-0000-0000-0000-000000000002"}


def resolve(ident: str) -> str:
    if ident in UUIDS.values():
        return ident
    if ident not in UUIDS:
        raise NotFound(f"Cluster {ident} could not be found.")
    return UUIDS[ident]


@pytest.mark.parametrize("zone", ["example.com.", "example.com", "local", "a-b.c9.io",
                                  "x" * 63 + ".org", "1and1.com."])
def test_dns_zones_that_are_names(zone: str) -> None:
    assert rules.dns_zone_problem(zone) is None


@pytest.mark.parametrize(("zone", "why"), [
    ("", "empty"), (".", "empty"), ("-a.org", "'-a'"), ("a-.org", "'a-'"),
    ("a..org", "''"), ("x" * 64 + ".org", "label"), ("a b.org", "'a b'"),
    ("10.0.0.1", "all digits"), (("a" * 60 + ".") * 5, "253"), ("ex_ample.com", "'ex_ample'"),
])
def test_dns_zones_that_are_not(zone: str, why: str) -> None:
    problem = rules.dns_zone_problem(zone)
    assert problem is not None and why in problem


def test_properties_need_a_dns_zone_and_strings() -> None:
    assert rules.check_properties({"dns-zone": "a.org.", "team": "x"}) == {
        "dns-zone": "a.org.", "team": "x"}
    for bad, text in [(None, "JSON object"), ({}, "required"), ({"dns-zone": 3}, "strings"),
                      ({"dns-zone": "a.org", "": "x"}, "strings"),
                      ({"dns-zone": "a.org", "k": "v" * 256}, "255"),
                      ({"dns-zone": "no zone"}, "'no zone'")]:
        with pytest.raises(Invalid, match=text):
            rules.check_properties(bad)


def test_who_may_host_or_join() -> None:
    ok = {"ident": "c", "desired_state": "present", "project_id": "p1",
          "federation_project": "p1"}
    for status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "ROLLBACK_COMPLETE"):
        rules.check_eligible(role="member", status=status, **ok)
    for status in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "CREATE_FAILED",
                   "UPDATE_FAILED", None):
        with pytest.raises(Invalid, match="last operation must have completed"):
            rules.check_eligible(role="host", status=status, **ok)
    with pytest.raises(Invalid, match="being deleted"):
        rules.check_eligible(role="member", status="DELETE_FAILED", **ok)
    with pytest.raises(Invalid, match="being deleted"):
        rules.check_eligible(role="member", status="CREATE_COMPLETE",
                             **{**ok, "desired_state": "absent"})
    with pytest.raises(Invalid, match="another project"):
        rules.check_eligible(role="member", status="CREATE_COMPLETE",
                             **{**ok, "project_id": "p2"})


def test_members_are_a_list_of_distinct_clusters() -> None:
    assert rules.check_members(["a", "b"]) == ["a", "b"]
    for bad in ("a", [1], [""], None):
        with pytest.raises(Invalid, match="member_ids"):
            rules.check_members(bad)
    with pytest.raises(Invalid, match="b is listed twice"):
        rules.distinct([UUIDS["a"], UUIDS["a"]], ["a", "b"])


def test_join_and_unjoin_become_replaces_in_order() -> None:
    ops = [{"op": "add", "path": "/member_ids", "value": "a"},
           {"op": "add", "path": "/properties/x", "value": "y"},
           {"op": "add", "path": "/member_ids", "value": "b"},
           {"op": "remove", "path": "/member_ids", "value": UUIDS["a"]}]
    assert rules.membership_ops([], ops, resolve, "fed") == [
        {"op": "replace", "path": "/member_ids", "value": [UUIDS["a"]]},
        {"op": "add", "path": "/properties/x", "value": "y"},
        {"op": "replace", "path": "/member_ids", "value": [UUIDS["a"], UUIDS["b"]]},
        {"op": "replace", "path": "/member_ids", "value": [UUIDS["b"]]}]


def test_join_of_a_member_is_a_conflict_and_unjoin_of_a_stranger_not_found() -> None:
    with pytest.raises(Conflict, match="already a member of federation fed"):
        rules.membership_ops([UUIDS["a"]], [{"op": "add", "path": "/member_ids",
                                             "value": "a"}], resolve, "fed")
    with pytest.raises(NotFound, match="b is not a member"):
        rules.membership_ops([UUIDS["a"]], [{"op": "remove", "path": "/member_ids",
                                             "value": "b"}], resolve, "fed")
    with pytest.raises(NotFound, match="ghost could not be found"):
        rules.membership_ops([], [{"op": "remove", "path": "/member_ids", "value": "ghost"}],
                             resolve, "fed")


def test_other_operations_pass_unchanged() -> None:
    ops = [{"op": "replace", "path": "/member_ids", "value": ["a"]},
           {"op": "remove", "path": "/member_ids"},
           {"op": "add", "path": "/member_ids", "value": ["a"]}]
    assert rules.membership_ops([], ops, resolve, "fed") == ops
