"""Magnum's policy rule names and defaults, overridable by a policy file."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from magna.cmd.api import build_app
from magna.policy import rules
from tests.conftest import make_conf
from tests.support.api import ApiClient, assert_error, make_cluster, make_template

MAGNUM_RULES = {
    "certificate:create", "certificate:get", "certificate:rotate_ca", "cluster:create",
    "cluster:delete", "cluster:update", "cluster:resize", "cluster:upgrade", "cluster:get",
    "cluster:get_all", "cluster:detail", "cluster:update_health_status",
    "cluster:delete_all_projects", "cluster:detail_all_projects",
    "cluster:get_one_all_projects", "cluster:get_all_all_projects",
    "cluster:update_all_projects", "cluster:upgrade_all_projects", "clustertemplate:create",
    "clustertemplate:delete", "clustertemplate:update", "clustertemplate:get",
    "clustertemplate:get_all", "clustertemplate:detail", "clustertemplate:publish",
    "credential:rotate", "magnum-service:get_all", "quota:create", "quota:delete",
    "quota:update", "quota:get_all", "quota:get", "stats:get_all", "nodegroup:get",
    "nodegroup:get_all", "nodegroup:create", "nodegroup:update", "nodegroup:delete",
    "nodegroup:get_all_all_projects", "nodegroup:get_one_all_projects",
    "federation:create", "federation:delete", "federation:update", "federation:get",
    "federation:get_all", "federation:detail",
}


def test_every_magnum_rule_has_a_default() -> None:
    names = {rule.name for rule in rules.list_rules()}
    assert names >= MAGNUM_RULES


def test_federation_rules_have_the_spec_defaults() -> None:
    defaults = {rule.name: rule.check_str for rule in rules.list_rules()}
    for action in ("create", "delete", "update"):
        assert defaults[f"federation:{action}"] == \
            "rule:admin_or_project_member_deny_cluster_user"
    for action in ("get", "get_all", "detail"):
        assert defaults[f"federation:{action}"] == \
            "rule:admin_or_project_reader_deny_cluster_user"


def test_a_policy_file_overrides_the_defaults(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('"cluster:get_all": "role:auditor"\n'
                      '"clustertemplate:create": "role:admin"\n')
    conf = make_conf(tmp_path, oslo_policy={"policy_file": str(policy)})
    with TestClient(build_app(conf)) as client:
        api = ApiClient(client)
        member = api.as_user("p1")
        assert_error(member.post("/v1/clustertemplates", json={
            "coe": "swarm-mode", "image_id": "debian-12-docker"}), 403,
            "clustertemplate:create")
        template = make_template(api)
        make_cluster(api, template["uuid"])
        assert_error(api.get("/v1/clusters"), 403, "cluster:get_all")
        auditor = api.as_user("admin", roles="auditor")
        assert auditor.get("/v1/clusters").status_code == 200


def test_a_caller_without_a_project_owns_nothing(tmp_path: Path) -> None:
    from magna.common.context import RequestContext
    from magna.policy.enforcer import Authorizer

    authz = Authorizer(make_conf(tmp_path))
    projectless = RequestContext(user_id=None, project_id=None, roles=("member", "reader"))
    assert not authz.check(projectless, "cluster:get", {"project_id": None, "user_id": None})
    assert not authz.check(projectless, "cluster:create")
    member = RequestContext(user_id="u", project_id="p", roles=("member", "reader"))
    assert authz.check(member, "cluster:get", {"project_id": "p", "user_id": "u"})
