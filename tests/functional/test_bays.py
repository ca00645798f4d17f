"""Legacy bays: clusters under their Magnum <= 16 name, with the old field names and versions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from magna.db import engine as db_engine
from magna.db import models
from tests.conftest import api_with_policy_file
from tests.support.api import ApiClient, assert_error, make_cluster, make_template

SUMMARY = {"uuid", "name", "baymodel_id", "docker_volume_size", "labels", "master_flavor_id",
           "flavor_id", "node_count", "status", "bay_create_timeout", "master_count", "stack_id",
           "links"}
CLUSTER_ONLY = {"cluster_template_id", "create_timeout", "cluster_id", "faults"}


def make_bay(api: ApiClient, baymodel: str, **overrides: Any) -> str:
    response = api.post("/v1/bays", json={"name": "bay1", "baymodel_id": baymodel, **overrides})
    assert response.status_code == 202, response.text
    uuid: str = response.json()["uuid"]
    return uuid


@pytest.fixture
def template(api: ApiClient) -> str:
    uuid: str = make_template(api)["uuid"]
    return uuid


def test_create_at_1_1_answers_201_with_the_full_bay(api: ApiClient, template: str) -> None:
    response = api.at_version("1.1").post("/v1/bays", json={
        "name": "old", "baymodel_id": template, "node_count": 2, "bay_create_timeout": 15})
    assert response.status_code == 201, response.text
    bay = response.json()
    assert response.headers["location"].endswith(f"/v1/bays/{bay['uuid']}")
    assert bay["baymodel_id"] == template and bay["bay_create_timeout"] == 15
    assert bay["node_count"] == 2 and bay["master_count"] == 1
    assert bay["status"] == "CREATE_IN_PROGRESS" and "stack_id" in bay
    assert not CLUSTER_ONLY & set(bay)
    assert bay["links"][0]["href"].endswith(f"/v1/bays/{bay['uuid']}")


def test_create_without_a_version_header_is_1_1(api: ApiClient, template: str) -> None:
    response = api.at_version(None).post("/v1/bays", json={"baymodel_id": template})
    assert response.status_code == 201, response.text
    assert response.json()["name"].endswith("-bay")


@pytest.mark.parametrize("version", ["1.2", "1.10", "latest"])
def test_create_from_1_2_answers_202_with_the_uuid(api: ApiClient, template: str,
                                                   version: str) -> None:
    response = api.at_version(version).post("/v1/bays", json={"baymodel_id": template})
    assert response.status_code == 202, response.text
    assert list(response.json()) == ["uuid"]


def test_a_bay_is_a_cluster_and_a_cluster_is_a_bay(api: ApiClient, template: str) -> None:
    bay = make_bay(api, template, bay_create_timeout=30)
    cluster = api.at_version("1.12").get(f"/v1/clusters/{bay}").json()
    assert cluster["cluster_template_id"] == template and cluster["create_timeout"] == 30
    other = make_cluster(api, template, name="plain", create_timeout=45)
    shown = api.get(f"/v1/bays/{other}").json()
    assert shown["baymodel_id"] == template and shown["bay_create_timeout"] == 45
    assert {b["uuid"] for b in api.get("/v1/bays").json()["bays"]} == {bay, other}
    assert not CLUSTER_ONLY & set(shown)


def test_full_bay_is_the_cluster_with_legacy_names(api: ApiClient, template: str) -> None:
    bay = make_bay(api, template, labels={"a": "b"})
    shown = api.get(f"/v1/bays/{bay}").json()
    cluster = api.at_version("1.12").get(f"/v1/clusters/{bay}").json()
    renames = {"cluster_template_id": "baymodel_id", "create_timeout": "bay_create_timeout"}
    assert list(shown) == [renames.get(key, key) for key in cluster]
    assert shown["labels"] == {"a": "b"} and shown["stack_id"] is None


def test_list_is_a_summary_and_detail_the_full_bays(api: ApiClient, template: str) -> None:
    bays = [make_bay(api, template, name=f"b{n}") for n in range(3)]
    listed = api.get("/v1/bays").json()
    assert set(listed) == {"bays"} and set(listed["bays"][0]) == SUMMARY
    page = api.get("/v1/bays/detail?limit=2").json()
    assert [b["uuid"] for b in page["bays"]] == bays[:2]
    assert "/v1/bays/detail?" in page["next"] and f"marker={bays[1]}" in page["next"]
    assert "status_reason" in page["bays"][0] and "bay_create_timeout" in page["bays"][0]
    rest = api.get(f"/v1/bays?limit=2&marker={bays[1]}").json()
    assert [b["uuid"] for b in rest["bays"]] == bays[2:]


def test_bays_are_found_by_name(api: ApiClient, template: str) -> None:
    uuid = make_bay(api, template, name="named")
    assert api.get("/v1/bays/named").json()["uuid"] == uuid
    make_bay(api, template, name="named")
    assert_error(api.get("/v1/bays/named"), 409,
                 "Multiple bays exist with same name. Please use the bay uuid instead.")


@pytest.mark.parametrize(("body", "message"), [
    ({"node_count": 0}, "node_count"),
    ({"master_count": 0}, "master_count"),
    ({"bay_create_timeout": -1}, "bay_create_timeout"),
    ({"name": "1-starts-with-a-digit"}, "name"),
    ({"keypair": "kp"}, "Unknown attribute for argument bay: keypair"),
    ({"cluster_template_id": "x"}, "Unknown attribute for argument bay: cluster_template_id"),
])
def test_create_rejects_bad_bodies(api: ApiClient, template: str, body: dict[str, Any],
                                   message: str) -> None:
    response = api.post("/v1/bays", json={"baymodel_id": template, **body})
    assert_error(response, 400, message)


def test_create_needs_an_existing_baymodel(api: ApiClient) -> None:
    assert_error(api.post("/v1/bays", json={"name": "b"}), 400,
                 "Invalid input for field/attribute baymodel_id. Value: 'None'. "
                 "Mandatory field missing.")
    assert_error(api.post("/v1/bays", json={"baymodel_id": "nope"}), 400,
                 "Baymodel nope could not be found.")
    # Digits are also tried as a template's row id; these are none (beyond 64 bits, not ASCII).
    for number in ("9" * 30, "\u0663"):
        assert_error(api.post("/v1/bays", json={"baymodel_id": number}), 400,
                     f"Baymodel {number} could not be found.")


def test_update_at_1_1_answers_200_with_the_full_bay(api: ApiClient, template: str) -> None:
    bay = make_bay(api, template)
    patch = [{"op": "replace", "path": "/node_count", "value": 3}]
    response = api.at_version("1.1").patch(f"/v1/bays/{bay}", json=patch)
    assert response.status_code == 200, response.text
    assert response.json()["uuid"] == bay and response.json()["node_count"] == 3
    assert response.json()["baymodel_id"] == template


def test_update_from_1_2_answers_202_with_the_uuid(api: ApiClient, template: str) -> None:
    bay = make_bay(api, template)
    patch = [{"op": "replace", "path": "/node_count", "value": 2}]
    response = api.at_version("1.2").patch(f"/v1/bays/{bay}", json=patch)
    assert response.status_code == 202 and response.json() == {"uuid": bay}
    assert api.get(f"/v1/clusters/{bay}").json()["node_count"] == 2


def test_rollback_is_a_boolean_from_1_3(api: ApiClient, template: str) -> None:
    bay = make_bay(api, template)
    patch = [{"op": "replace", "path": "/node_count", "value": 2}]
    ok = api.at_version("1.3").patch(f"/v1/bays/{bay}?rollback=True", json=patch)
    assert ok.status_code == 202 and ok.json() == {"uuid": bay}
    assert_error(api.at_version("1.3").patch(f"/v1/bays/{bay}?rollback=maybe", json=patch),
                 400, "rollback")
    # Before 1.3 the parameter did not exist and was ignored.
    assert api.at_version("1.2").patch(f"/v1/bays/{bay}?rollback=maybe",
                                       json=patch).status_code == 202


@pytest.mark.parametrize(("path", "value", "field"), [
    ("/baymodel_id", "other", "cluster_template_id"),
    ("/bay_create_timeout", 5, "create_timeout"),
    ("/name", "renamed", "name"),
])
def test_update_refuses_fixed_properties(api: ApiClient, template: str, path: str,
                                         value: Any, field: str) -> None:
    bay = make_bay(api, template)
    response = api.patch(f"/v1/bays/{bay}", json=[{"op": "replace", "path": path,
                                                   "value": value}])
    assert_error(response, 400, f"cannot change cluster property(ies) {field}.")


def test_update_refuses_zero_nodes(api: ApiClient, template: str) -> None:
    bay = make_bay(api, template)
    response = api.patch(f"/v1/bays/{bay}", json=[{"op": "replace", "path": "/node_count",
                                                   "value": 0}])
    assert_error(response, 400, "zero")


def test_delete_answers_204_and_starts_deleting(api: ApiClient, template: str) -> None:
    bay = make_bay(api, template)
    response = api.delete(f"/v1/bays/{bay}")
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/v1/bays/{bay}").json()["status"] == "DELETE_IN_PROGRESS"


def test_unknown_bays_are_not_found_as_bays(api: ApiClient) -> None:
    patch = [{"op": "replace", "path": "/node_count", "value": 2}]
    for response in (api.get("/v1/bays/ghost"), api.delete("/v1/bays/ghost"),
                     api.patch("/v1/bays/ghost", json=patch)):
        assert_error(response, 404, "Bay ghost could not be found.")
    assert_error(api.get("/v1/bays?marker=ghost"), 404, "Marker ghost could not be found.")


def test_another_projects_bay_is_not_found(api: ApiClient) -> None:
    owner, stranger = api.as_user("p1"), api.as_user("p2")
    bay = make_bay(owner, make_template(owner)["uuid"])
    patch = [{"op": "replace", "path": "/node_count", "value": 2}]
    assert_error(stranger.get(f"/v1/bays/{bay}"), 404, f"Bay {bay} could not be found.")
    assert_error(stranger.patch(f"/v1/bays/{bay}", json=patch), 404, "could not be found")
    assert_error(stranger.delete(f"/v1/bays/{bay}"), 404, "could not be found")
    assert stranger.get("/v1/bays").json() == {"bays": []}
    assert [b["uuid"] for b in api.get("/v1/bays").json()["bays"]] == [bay]


def test_bay_rules_govern_bays(api: ApiClient) -> None:
    member = api.as_user("p1")
    template = make_template(member)["uuid"]
    bay = make_bay(member, template)
    reader = api.as_user("p1", roles="reader")
    assert reader.get(f"/v1/bays/{bay}").status_code == 200
    assert reader.get("/v1/bays/detail").status_code == 200
    assert_error(reader.post("/v1/bays", json={"baymodel_id": template}), 403,
                 "Policy doesn't allow bay:create to be performed.")
    assert_error(reader.patch(f"/v1/bays/{bay}", json=[
        {"op": "replace", "path": "/node_count", "value": 2}]), 403, "bay:update")
    assert_error(reader.delete(f"/v1/bays/{bay}"), 403, "bay:delete")
    nobody = api.as_user("p1", roles="")
    assert_error(nobody.get("/v1/bays"), 403, "bay:get_all")
    assert_error(nobody.get("/v1/bays/detail"), 403, "bay:detail")
    assert_error(nobody.get(f"/v1/bays/{bay}"), 403, "bay:get")


def test_bays_count_against_the_cluster_quota(api: ApiClient, template: str) -> None:
    api.post("/v1/quotas", json={"project_id": "admin", "hard_limit": 1})
    make_bay(api, template)
    assert_error(api.post("/v1/bays", json={"baymodel_id": template}), 403,
                 "Resource limit exceeded")


@pytest.fixture
def sessions(conf: cfg.ConfigOpts, api: ApiClient) -> Iterator[sessionmaker[Session]]:
    from magna.cmd.compose import database_url

    engine = db_engine.make_engine(database_url(conf))
    yield db_engine.make_session_factory(engine)
    engine.dispose()


def test_a_failed_bay_reports_bay_faults(api: ApiClient, template: str,
                                         sessions: sessionmaker[Session]) -> None:
    bay = make_bay(api, template)
    with sessions.begin() as session:
        session.execute(update(models.Cluster).where(models.Cluster.uuid == bay)
                        .values(status="CREATE_FAILED"))
        session.execute(update(models.NodeGroup).where(models.NodeGroup.cluster_id == bay,
                                                       models.NodeGroup.role == "worker")
                        .values(status="CREATE_FAILED", status_reason="boom"))
    shown = api.get(f"/v1/bays/{bay}").json()
    assert shown["bay_faults"] == {"default-worker": "boom"} and "faults" not in shown


@pytest.fixture
def api_with_policy(tmp_path: Path, db_url: str) -> Iterator[ApiClient]:
    """Nobody may create a bay; clusters keep their default rule."""
    with api_with_policy_file(tmp_path, db_url, '"bay:create": "!"\n') as client:
        yield client


def test_bay_create_is_governed_by_bay_create(api_with_policy: ApiClient) -> None:
    template = make_template(api_with_policy)["uuid"]
    assert_error(api_with_policy.post("/v1/bays", json={"baymodel_id": template}), 403,
                 "Policy doesn't allow bay:create to be performed.")
    make_cluster(api_with_policy, template)
