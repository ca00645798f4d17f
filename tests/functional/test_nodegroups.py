"""User stories for ``/v1/clusters/{cluster}/nodegroups``: list, show, add, change, remove.

Each test runs on SQLite and on PostgreSQL. The app is built here (rather than with the shared
``api`` fixture) so that tests can see the conductor nudges and play the conductor's part by
writing observed status into the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
from oslo_config import cfg
from sqlalchemy import select
from starlette.testclient import TestClient

from magna.api.app import create_app
from magna.cmd.compose import build_services
from magna.db import models
from magna.services import Services
from tests.support.api import ApiClient, assert_error, make_cluster, make_template

SUMMARY = {"uuid", "name", "flavor_id", "image_id", "node_count", "role", "min_node_count",
           "max_node_count", "is_default", "stack_id", "status", "merge_labels"}
FULL = {"id", "uuid", "name", "cluster_id", "project_id", "docker_volume_size", "labels",
        "links", "flavor_id", "image_id", "node_addresses", "node_count", "role",
        "min_node_count", "max_node_count", "is_default", "stack_id", "status",
        "status_reason", "version", "merge_labels", "labels_overridden", "labels_added",
        "labels_skipped", "node_labels", "node_taints", "created_at", "updated_at"}
CLUSTER_LABELS = {"a": "1", "b": "2"}
M = TypeVar("M", models.Cluster, models.NodeGroup)


@dataclass
class Env:
    admin: ApiClient
    user: ApiClient
    svc: Services
    nudges: list[str]
    cluster: str

    def path(self, suffix: str = "") -> str:
        return f"/v1/clusters/{self.cluster}/nodegroups{suffix}"

    def set_status(self, model: type[M], uuid: str,
                   status: str) -> None:
        with self.svc.transaction() as session:
            row = session.scalars(select(model).where(model.uuid == uuid)).one()
            row.status = status

    def row(self, uuid: str) -> models.NodeGroup:
        with self.svc.transaction() as session:
            return session.scalars(select(models.NodeGroup)
                                   .where(models.NodeGroup.uuid == uuid)).one()

    def cluster_row(self) -> models.Cluster:
        with self.svc.transaction() as session:
            return session.scalars(select(models.Cluster)
                                   .where(models.Cluster.uuid == self.cluster)).one()


@pytest.fixture
def env(conf: cfg.ConfigOpts) -> Iterator[Env]:
    svc = build_services(conf)
    nudges: list[str] = []
    svc.nudge = nudges.append
    with TestClient(create_app(conf, svc)) as client:
        admin = ApiClient(client)
        user = admin.as_user("p1")
        template = make_template(user)
        cluster = make_cluster(user, template["uuid"], labels=CLUSTER_LABELS)
        nudges.clear()
        yield Env(admin, user, svc, nudges, cluster)


def make_nodegroup(env: Env, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "ng1", "node_count": 1, "max_node_count": None,
                            "min_node_count": 0, "role": "worker"}
    body.update(overrides)
    response = env.user.post(env.path("/"), json=body)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


# --- microversions ---------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("GET", "/default-worker"),
                                                ("POST", ""), ("PATCH", "/default-worker"),
                                                ("DELETE", "/default-worker")])
def test_nodegroups_need_microversion_1_9(env: Env, method: str, suffix: str) -> None:
    response = env.user.at_version("1.8").request(method, env.path(suffix), json={})
    assert_error(response, 406, "1.9")
    assert env.user.at_version("1.9").get(env.path()).status_code == 200


# --- list ------------------------------------------------------------------------------------

def test_list_shows_the_default_nodegroups_as_summaries(env: Env) -> None:
    response = env.user.get(env.path("/"))
    assert response.status_code == 200, response.text
    items = response.json()["nodegroups"]
    assert [(ng["name"], ng["role"], ng["is_default"]) for ng in items] == [
        ("default-master", "master", True), ("default-worker", "worker", True)]
    assert all(set(ng) == SUMMARY for ng in items)
    assert "next" not in response.json()


def test_list_filters_by_role_and_accepts_the_cluster_name(env: Env) -> None:
    make_nodegroup(env, name="extra")
    response = env.user.get("/v1/clusters/cluster1/nodegroups/?role=worker")
    assert [ng["name"] for ng in response.json()["nodegroups"]] == ["default-worker", "extra"]
    response = env.user.get(env.path("?role=master"))
    assert [ng["name"] for ng in response.json()["nodegroups"]] == ["default-master"]


def test_list_pages_with_a_next_link_on_the_cluster_uuid(env: Env) -> None:
    make_nodegroup(env, name="extra")
    response = env.user.get("/v1/clusters/cluster1/nodegroups?limit=2&sort_key=name"
                            "&sort_dir=desc&role=worker")
    body = response.json()
    assert [ng["name"] for ng in body["nodegroups"]] == ["extra", "default-worker"]
    link = urlsplit(body["next"])
    assert link.path == f"/v1/clusters/{env.cluster}/nodegroups"
    query = parse_qs(link.query)
    assert query == {"sort_key": ["name"], "sort_dir": ["desc"], "limit": ["2"],
                     "marker": [body["nodegroups"][-1]["uuid"]], "role": ["worker"]}
    follow = env.user.get(f"{link.path}?{link.query}").json()
    assert follow == {"nodegroups": []}
    page = env.user.get(env.path("?limit=1")).json()
    second = env.user.get(env.path(f"?limit=1&marker={page['nodegroups'][0]['uuid']}")).json()
    assert second["nodegroups"][0]["name"] == "default-worker"


@pytest.mark.parametrize(("query", "status", "fragment"), [
    ("limit=0", 400, "Limit must be positive"),
    ("sort_dir=up", 400, "Invalid sort direction: up"),
    ("sort_key=nope", 400, 'The sort_key value "nope" is an invalid field for sorting'),
    ("sort_key=node_labels", 400, "invalid field for sorting"),
    ("sort_key=nodes_to_remove", 400, "invalid field for sorting"),
    ("marker=5f1c1a6e-0c5e-4d6e-9a43-1f9c0f2b7a11", 404, "could not be found"),
])
def test_list_rejects_bad_paging(env: Env, query: str, status: int, fragment: str) -> None:
    assert_error(env.user.get(env.path(f"?{query}")), status, fragment)


def test_list_of_an_unknown_or_foreign_cluster_is_404(env: Env) -> None:
    assert_error(env.user.get("/v1/clusters/nope/nodegroups"), 404,
                 "Cluster nope could not be found.")
    other = env.admin.as_user("p2")
    assert_error(other.get(env.path()), 404, f"Cluster {env.cluster} could not be found.")


# --- show ------------------------------------------------------------------------------------

def test_show_has_every_field_with_labels_compared_to_the_cluster(env: Env) -> None:
    created = make_nodegroup(env, labels={"a": "9", "c": 3})
    for ident in (created["uuid"], "ng1"):
        body = env.user.get(env.path(f"/{ident}")).json()
        assert set(body) == FULL
        assert body["labels"] == {"a": "9", "c": "3"}
        assert body["labels_overridden"] == {"a": "1"}
        assert body["labels_added"] == {"c": "3"}
        assert body["labels_skipped"] == {"b": "2"}
        assert body["cluster_id"] == env.cluster
        assert body["project_id"] == "p1"
    assert body["links"][0]["href"].endswith(
        f"/v1/clusters/{env.cluster}/nodegroups/{created['uuid']}")
    assert body["links"][1]["href"].endswith(
        f"/clusters/{env.cluster}/nodegroups/{created['uuid']}")
    assert "/v1/" not in body["links"][1]["href"]


@pytest.mark.parametrize("version", ["1.9", "1.12", "1.13", "1.14"])
def test_show_keeps_stack_id_at_every_version(env: Env, version: str) -> None:
    body = env.user.at_version(version).get(env.path("/default-worker")).json()
    assert "stack_id" in body
    listed = env.user.at_version(version).get(env.path()).json()["nodegroups"]
    assert all("stack_id" in ng for ng in listed)


def test_show_of_an_unknown_nodegroup_is_404(env: Env) -> None:
    assert_error(env.user.get(env.path("/nope")), 404, "Nodegroup nope could not be found.")


# --- create ----------------------------------------------------------------------------------

def test_create_records_intent_with_defaults_from_the_cluster(env: Env) -> None:
    env.set_status(models.Cluster, env.cluster, "CREATE_COMPLETE")
    generation = env.cluster_row().generation
    body = make_nodegroup(env)
    assert set(body) == FULL
    assert body["status"] == "CREATE_IN_PROGRESS"
    assert (body["flavor_id"], body["image_id"]) == ("m1.small", "debian-12-docker")
    assert body["labels"] == CLUSTER_LABELS
    assert (body["node_count"], body["min_node_count"], body["max_node_count"]) == (1, 0, None)
    assert (body["is_default"], body["role"], body["merge_labels"]) == (False, "worker", False)
    assert (body["node_labels"], body["node_taints"]) == ({}, [])
    cluster = env.cluster_row()
    assert cluster.status == "UPDATE_IN_PROGRESS"
    assert cluster.generation == generation + 1
    row = env.row(body["uuid"])
    assert (row.desired_state, row.generation, row.project_id) == ("present", 1, "p1")
    assert env.nudges == [env.cluster]
    shown = env.user.get(env.path("/ng1")).json()
    assert shown["uuid"] == body["uuid"]
    assert env.admin.get(f"/v1/clusters/{env.cluster}").json()["node_count"] == 2


def test_create_while_the_cluster_is_being_created_is_recorded(env: Env) -> None:
    # NOTE: upstream answers 409 until the cluster has an api_address; Magna records intent.
    assert env.cluster_row().status == "CREATE_IN_PROGRESS"
    make_nodegroup(env)
    assert env.cluster_row().status == "CREATE_IN_PROGRESS"


def test_create_takes_given_values_and_merges_labels(env: Env) -> None:
    body = make_nodegroup(env, flavor_id="m1.medium", image_id="fedora-atomic-latest",
                          node_count=3, min_node_count=2, max_node_count=5,
                          docker_volume_size=10, labels={"b": "20", "c": True},
                          merge_labels=True, node_labels={"env": "dev", "tier": 2},
                          node_taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])
    assert body["labels"] == {"a": "1", "b": "20", "c": "True"}
    assert body["labels_overridden"] == {"b": "2"}
    assert (body["flavor_id"], body["image_id"]) == ("m1.medium", "fedora-atomic-latest")
    assert (body["node_count"], body["min_node_count"], body["max_node_count"]) == (3, 2, 5)
    assert body["docker_volume_size"] == 10
    assert body["node_labels"] == {"env": "dev", "tier": "2"}
    assert body["node_taints"] == [{"key": "k", "value": "v", "effect": "NoSchedule"}]


def test_create_with_labels_and_no_merge_replaces_them(env: Env) -> None:
    body = make_nodegroup(env, labels={"z": "1"})
    assert body["labels"] == {"z": "1"}
    assert body["labels_skipped"] == CLUSTER_LABELS


def test_create_with_a_taken_name_is_409(env: Env) -> None:
    response = env.user.post(env.path(), json={"name": "default-worker"})
    assert_error(response, 409, "A node group with name default-worker already exists in the "
                 "cluster cluster1.")


@pytest.mark.parametrize(("counts", "message"), [
    ({"node_count": 1, "min_node_count": 3},
     "min_node_count for ng2 is invalid (min_node_count (3) should be less or equal to "
     "node_count (1))."),
    ({"node_count": 4, "max_node_count": 3},
     "max_node_count for ng2 is invalid (node_count (4) should be less or equal to "
     "max_node_count (3))."),
    ({"node_count": 2, "min_node_count": 3, "max_node_count": 2},
     "max_node_count for ng2 is invalid (min_node_count (3) should be less or equal to "
     "max_node_count (2))."),
])
def test_create_with_inconsistent_counts_is_409(env: Env, counts: dict[str, int],
                                                message: str) -> None:
    error = assert_error(env.user.post(env.path(), json={"name": "ng2", **counts}), 409)
    assert error["detail"] == message


def test_create_of_a_master_nodegroup_is_400(env: Env) -> None:
    response = env.user.post(env.path(), json={"name": "m2", "role": "master"})
    assert_error(response, 400, "Creating master nodegroups is currently not supported.")


@pytest.mark.parametrize("key", ["env", "example.com/team", "node.kubernetes.io/pool",
                                 "kubelet.kubernetes.io/x", "sub.node.kubernetes.io/y",
                                 "kubernetes.io/arch", "topology.kubernetes.io/zone",
                                 "beta.kubernetes.io/instance-type"])
def test_create_accepts_allowed_node_label_keys(env: Env, key: str) -> None:
    assert make_nodegroup(env, node_labels={key: "v"})["node_labels"] == {key: "v"}


@pytest.mark.parametrize("key", ["kubernetes.io/role", "node-role.kubernetes.io/worker",
                                 "k8s.io/x", "example.k8s.io/y", "kubernetes.io/foo"])
def test_create_refuses_reserved_node_label_keys(env: Env, key: str) -> None:
    response = env.user.post(env.path(), json={"name": "x", "node_labels": {key: "v"}})
    error = assert_error(response, 409, f"node_labels for x is invalid (node label '{key}'")
    assert error["code"] == "client"


@pytest.mark.parametrize(("taints", "fragment"), [
    ([{"key": "k", "effect": "Sometimes"}], "effect of taint 'k'"),
    ([{"key": "k", "effect": "NoSchedule", "operator": "Equal"}], "unknown attributes"),
    ([{"value": "v", "effect": "NoSchedule"}], "needs a non-empty key"),
    ([{"key": "k"}], "effect of taint 'k'"),
    ([{"key": "k", "value": 5, "effect": "NoExecute"}], "value of taint 'k'"),
    (["k=v:NoSchedule"], "is not an object"),
])
def test_create_refuses_bad_node_taints(env: Env, taints: list[Any], fragment: str) -> None:
    response = env.user.post(env.path(), json={"name": "x", "node_taints": taints})
    error = assert_error(response, 409, fragment)
    assert error["detail"].startswith("node_taints for x is invalid (")


def test_create_refuses_non_scalar_node_label_values(env: Env) -> None:
    response = env.user.post(env.path(), json={"name": "x", "node_labels": {"k": ["v"]}})
    assert_error(response, 409, "node_labels for x is invalid")


@pytest.mark.parametrize(("body", "status", "fragment"), [
    ({"name": "x", "flavor_id": "m1.huge"}, 400, "Unable to find flavor m1.huge."),
    ({}, 400, "Invalid input for field/attribute name. Value: 'None'. Mandatory field"),
    ({"name": "x", "node_count": -1}, 400, "node_count"),
    ({"name": "x", "min_node_count": "few"}, 400, "min_node_count"),
    ({"name": "x", "node_labels": ["a"]}, 400, "node_labels"),
    ({"name": "x", "node_taints": {"key": "k"}}, 400, "node_taints"),
    ({"name": "x", "surprise": 1}, 400, "Unknown attribute for argument nodegroup: surprise"),
    ({"name": "x" * 256}, 400, "name"),
])
def test_create_rejects_bad_input(env: Env, body: dict[str, Any], status: int,
                                  fragment: str) -> None:
    assert_error(env.user.post(env.path(), json=body), status, fragment)
    assert env.nudges == []


def test_create_ignores_read_only_fields_echoed_back(env: Env) -> None:
    body = make_nodegroup(env, uuid="not-mine", is_default=True, status="CREATE_COMPLETE",
                          project_id="p9", links=[])
    assert body["uuid"] != "not-mine"
    assert (body["is_default"], body["status"], body["project_id"]) == (
        False, "CREATE_IN_PROGRESS", "p1")


def test_create_on_a_cluster_being_deleted_is_400(env: Env) -> None:
    assert env.user.delete(f"/v1/clusters/{env.cluster}").status_code == 204
    response = env.user.post(env.path(), json={"name": "late"})
    assert_error(response, 400, 'when status is "DELETE_IN_PROGRESS" is not supported')


# --- update ----------------------------------------------------------------------------------

def patch_ng(env: Env, ident: str, *ops: dict[str, Any]) -> Any:
    return env.user.patch(env.path(f"/{ident}"), json=list(ops))


def test_patch_changes_counts_and_records_intent(env: Env) -> None:
    created = make_nodegroup(env, node_count=2)
    env.set_status(models.Cluster, env.cluster, "CREATE_COMPLETE")
    env.set_status(models.NodeGroup, created["uuid"], "CREATE_COMPLETE")
    env.nudges.clear()
    response = patch_ng(env, "ng1", {"op": "replace", "path": "/min_node_count", "value": 1},
                        {"op": "replace", "path": "/max_node_count", "value": 4})
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == FULL
    assert (body["min_node_count"], body["max_node_count"]) == (1, 4)
    assert body["status"] == "UPDATE_IN_PROGRESS"
    assert env.row(created["uuid"]).generation == 2
    assert env.cluster_row().status == "UPDATE_IN_PROGRESS"
    assert env.nudges == [env.cluster]
    response = patch_ng(env, created["uuid"], {"op": "remove", "path": "/max_node_count"},
                        {"op": "remove", "path": "/min_node_count"})
    assert (response.json()["min_node_count"], response.json()["max_node_count"]) == (0, None)


def test_patch_takes_python_literal_labels_and_taints(env: Env) -> None:
    make_nodegroup(env)
    response = patch_ng(
        env, "ng1",
        {"op": "replace", "path": "/node_labels", "value": "{'env': 'dev'}"},
        {"op": "replace", "path": "/node_taints",
         "value": "[{'key': 'k', 'value': '', 'effect': 'NoExecute'}]"})
    assert response.status_code == 202, response.text
    assert response.json()["node_labels"] == {"env": "dev"}
    assert response.json()["node_taints"] == [{"key": "k", "value": "", "effect": "NoExecute"}]
    response = patch_ng(env, "ng1", {"op": "add", "path": "/node_labels/zone", "value": "a"})
    assert response.json()["node_labels"] == {"env": "dev", "zone": "a"}
    shown = env.user.get(env.path("/ng1")).json()
    assert shown["node_labels"] == {"env": "dev", "zone": "a"}


def test_patch_without_change_records_nothing(env: Env) -> None:
    created = make_nodegroup(env)
    env.nudges.clear()
    response = patch_ng(env, "ng1", {"op": "replace", "path": "/min_node_count", "value": 0})
    assert response.status_code == 202
    assert env.row(created["uuid"]).generation == 1
    assert env.nudges == []


@pytest.mark.parametrize("path", ["/node_count", "/name", "/labels", "/flavor_id", "/role",
                                  "/is_default", "/status", "/image_id", "/uuid",
                                  "/merge_labels", "/labels/a"])
def test_patch_of_other_fields_is_400(env: Env, path: str) -> None:
    response = patch_ng(env, "default-worker", {"op": "replace", "path": path, "value": 3})
    assert_error(response, 400, f"'{path}' is an internal attribute and can not be updated")


def test_patch_node_count_has_magnums_exact_message(env: Env) -> None:
    response = patch_ng(env, "default-worker",
                        {"op": "replace", "path": "/node_count", "value": 3})
    error = assert_error(response, 400)
    assert error["detail"] == "'/node_count' is an internal attribute and can not be updated"


@pytest.mark.parametrize(("op", "status", "fragment"), [
    ({"op": "replace", "path": "/min_node_count", "value": 5}, 409,
     "min_node_count for ng1 is invalid (min_node_count (5) should be less or equal to "
     "node_count (2))."),
    ({"op": "replace", "path": "/max_node_count", "value": 1}, 409,
     "max_node_count for ng1 is invalid (node_count (2) should be less or equal to "
     "max_node_count (1))."),
    ({"op": "replace", "path": "/min_node_count", "value": -1}, 400,
     "Value should be greater or equal to 0"),
    ({"op": "replace", "path": "/max_node_count", "value": "many"}, 400,
     "Value should be an integer."),
    ({"op": "replace", "path": "/min_node_count", "value": True}, 400,
     "Value should be an integer."),
    ({"op": "replace", "path": "/node_labels", "value": "{'kubernetes.io/role': 'x'}"}, 409,
     "node_labels for ng1 is invalid (node label 'kubernetes.io/role'"),
    ({"op": "replace", "path": "/node_labels", "value": "not python"}, 400,
     "Invalid value for node_labels"),
    ({"op": "replace", "path": "/node_labels", "value": "['a']"}, 400, "node_labels"),
    ({"op": "replace", "path": "/node_taints", "value": "[{'key': 'k', 'effect': 'Bad'}]"},
     409, "node_taints for ng1 is invalid"),
    ({"op": "add", "path": "/node_labels", "value": {}}, 400, "please use 'replace'"),
    ({"op": "move", "path": "/min_node_count"}, 400, "op"),
])
def test_patch_validates_like_create(env: Env, op: dict[str, Any], status: int,
                                     fragment: str) -> None:
    make_nodegroup(env, node_count=2)
    env.nudges.clear()
    assert_error(patch_ng(env, "ng1", op), status, fragment)
    assert env.nudges == []


def test_patch_of_a_non_list_body_is_400(env: Env) -> None:
    response = env.user.patch(env.path("/default-worker"), json={"min_node_count": 1})
    assert_error(response, 400, "patch")


def test_node_labels_and_taints_are_refused_on_master_nodegroups(env: Env) -> None:
    response = patch_ng(env, "default-master",
                        {"op": "replace", "path": "/node_labels", "value": {"a": "b"}})
    assert_error(response, 409, "node_labels for default-master is invalid")
    response = patch_ng(env, "default-master", {
        "op": "replace", "path": "/node_taints",
        "value": [{"key": "k", "value": "v", "effect": "NoSchedule"}]})
    assert_error(response, 409, "node_taints for default-master is invalid")


def test_patch_of_an_unknown_nodegroup_is_404(env: Env) -> None:
    response = patch_ng(env, "nope", {"op": "replace", "path": "/min_node_count", "value": 0})
    assert_error(response, 404, "Nodegroup nope could not be found.")


# --- delete ----------------------------------------------------------------------------------

def test_delete_marks_the_nodegroup_absent(env: Env) -> None:
    created = make_nodegroup(env)
    env.set_status(models.Cluster, env.cluster, "CREATE_COMPLETE")
    env.nudges.clear()
    response = env.user.delete(env.path("/ng1"))
    assert response.status_code == 204
    assert response.content == b""
    row = env.row(created["uuid"])
    assert (row.status, row.desired_state, row.generation) == (
        "DELETE_IN_PROGRESS", "absent", 2)
    assert env.cluster_row().status == "UPDATE_IN_PROGRESS"
    assert env.nudges == [env.cluster]
    assert env.user.get(env.path("/ng1")).json()["status"] == "DELETE_IN_PROGRESS"
    # Deleting again changes nothing; changing a nodegroup being deleted is refused.
    assert env.user.delete(env.path(f"/{created['uuid']}")).status_code == 204
    assert env.row(created["uuid"]).generation == 2
    response = patch_ng(env, "ng1", {"op": "replace", "path": "/min_node_count", "value": 1})
    assert_error(response, 400, 'Updating a nodegroup when status is "DELETE_IN_PROGRESS"')
    # The name stays taken until the conductor removes the row.
    assert_error(env.user.post(env.path(), json={"name": "ng1"}), 409, "already exists")


@pytest.mark.parametrize("name", ["default-worker", "default-master"])
def test_delete_of_a_default_nodegroup_is_400(env: Env, name: str) -> None:
    assert_error(env.user.delete(env.path(f"/{name}")), 400,
                 "Deleting a default nodegroup is not supported.")


def test_delete_of_an_unknown_nodegroup_is_404(env: Env) -> None:
    assert_error(env.user.delete(env.path("/nope")), 404, "Nodegroup nope could not be found.")


def test_delete_on_a_cluster_being_deleted_is_400(env: Env) -> None:
    make_nodegroup(env)
    assert env.user.delete(f"/v1/clusters/{env.cluster}").status_code == 204
    assert_error(env.user.delete(env.path("/ng1")), 400, "DELETE_IN_PROGRESS")


# --- policy and scoping ----------------------------------------------------------------------

def test_a_reader_may_look_but_not_change(env: Env) -> None:
    make_nodegroup(env)
    reader = env.admin.as_user("p1", roles="reader", user="someone")
    assert reader.get(env.path()).status_code == 200
    assert reader.get(env.path("/ng1")).status_code == 200
    assert_error(reader.post(env.path(), json={"name": "x"}), 403,
                 "Policy doesn't allow nodegroup:create to be performed.")
    response = reader.patch(env.path("/ng1"),
                            json=[{"op": "replace", "path": "/min_node_count", "value": 0}])
    assert_error(response, 403, "nodegroup:update")
    assert_error(reader.delete(env.path("/ng1")), 403, "nodegroup:delete")


def test_without_roles_nothing_is_visible(env: Env) -> None:
    nobody = env.admin.as_user("p1", roles="", user="nobody")
    assert_error(nobody.get(env.path()), 403, "nodegroup:get_all")
    assert_error(nobody.get(env.path("/default-worker")), 403, "nodegroup:get")


def test_other_projects_get_404_for_everything(env: Env) -> None:
    other = env.admin.as_user("p2")
    assert_error(other.get(env.path("/default-worker")), 404, "could not be found")
    assert_error(other.post(env.path(), json={"name": "x"}), 404, "could not be found")
    assert_error(other.delete(env.path("/default-worker")), 404, "could not be found")
    response = other.patch(env.path("/default-worker"),
                           json=[{"op": "replace", "path": "/min_node_count", "value": 0}])
    assert_error(response, 404, "could not be found")


def test_nodegroups_of_another_project_are_hidden_from_non_admins(env: Env) -> None:
    created = make_nodegroup(env)
    with env.svc.transaction() as session:
        row = session.scalars(select(models.NodeGroup)
                              .where(models.NodeGroup.uuid == created["uuid"])).one()
        row.project_id = "p2"
    names = [ng["name"] for ng in env.user.get(env.path()).json()["nodegroups"]]
    assert names == ["default-master", "default-worker"]
    assert_error(env.user.get(env.path("/ng1")), 404, "Nodegroup ng1 could not be found.")
    names = [ng["name"] for ng in env.admin.get(env.path()).json()["nodegroups"]]
    assert names == ["default-master", "default-worker", "ng1"]


def test_admins_reach_every_project(env: Env) -> None:
    created = env.admin.post(env.path(), json={"name": "by-admin"})
    assert created.status_code == 202, created.text
    # NOTE: the nodegroup belongs to the cluster's project, so its owners still see it.
    assert created.json()["project_id"] == "p1"
    assert env.user.get(env.path("/by-admin")).status_code == 200
    assert env.admin.get(env.path("/by-admin")).status_code == 200
    response = env.admin.patch(env.path("/by-admin"),
                               json=[{"op": "replace", "path": "/max_node_count", "value": 3}])
    assert response.status_code == 202, response.text
    assert env.admin.delete(env.path("/by-admin")).status_code == 204
