"""A changed policy file applies within ``RELOAD_INTERVAL``: looked for once a second, not on
every check (oslo.policy's own enforcer searches and stats the files on every check)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from magna.common.context import RequestContext
from magna.policy import enforcer
from tests.conftest import make_conf


def test_a_changed_policy_file_applies_after_the_interval(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(enforcer.time, "monotonic", lambda: clock[0])
    policy = tmp_path / "policy.yaml"
    policy.write_text('"cluster:get_all": "@"\n')
    authz = enforcer.Authorizer(make_conf(tmp_path, oslo_policy={"policy_file": str(policy)}))
    member = RequestContext(user_id="u", project_id="p", roles=("member",))
    assert authz.check(member, "cluster:get_all")

    policy.write_text('"cluster:get_all": "!"\n')
    later = policy.stat().st_mtime + 5
    os.utime(policy, (later, later))
    clock[0] += enforcer.RELOAD_INTERVAL / 2
    assert authz.check(member, "cluster:get_all"), "not looked at again within the interval"
    clock[0] += enforcer.RELOAD_INTERVAL
    assert not authz.check(member, "cluster:get_all"), "the change applies after it"


def test_remembered_decisions_still_depend_on_target_and_caller(tmp_path: Path) -> None:
    authz = enforcer.Authorizer(make_conf(tmp_path))
    member = RequestContext(user_id="u", project_id="p", roles=("member", "reader"))
    reader = RequestContext(user_id="u", project_id="p", roles=("reader",))
    own, other = {"project_id": "p", "user_id": "u"}, {"project_id": "q", "user_id": "v"}
    for _ in range(2):  # the second round answers from what the first remembered
        assert authz.check(member, "cluster:get", own)
        assert not authz.check(member, "cluster:get", other)
        assert authz.check(member, "cluster:delete", own)
        assert not authz.check(reader, "cluster:delete", own)
        assert not authz.is_admin(member)
    unhashable = {"project_id": "p", "user_id": "u", "tags": ["a"]}
    assert authz.check(member, "cluster:get", unhashable), "decided without being remembered"
