"""Quotas: an admin limits a project's clusters; the project reads its quota and hits it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import make_conf
from tests.support.api import ApiClient, assert_error, make_cluster, make_template

QUOTA_KEYS = ["id", "hard_limit", "project_id", "resource", "created_at", "updated_at"]


def make_quota(api: ApiClient, project_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"project_id": project_id, "resource": "Cluster", "hard_limit": 5, **overrides}
    response = api.post("/v1/quotas", json=body)
    assert response.status_code == 201, response.text
    quota: dict[str, Any] = response.json()
    return quota


def test_admin_manages_a_quota_through_its_lifecycle(api: ApiClient) -> None:
    created = make_quota(api, "p1", hard_limit=3)
    assert list(created) == QUOTA_KEYS
    assert created["project_id"] == "p1" and created["hard_limit"] == 3
    assert created["resource"] == "Cluster" and created["updated_at"] is None

    shown = api.get("/v1/quotas/p1/Cluster")
    assert shown.status_code == 200 and shown.json() == created

    updated = api.patch("/v1/quotas/p1/Cluster",
                        json={"project_id": "p1", "resource": "Cluster", "hard_limit": 7})
    assert updated.status_code == 202, updated.text
    assert updated.json()["hard_limit"] == 7 and updated.json()["id"] == created["id"]
    assert updated.json()["updated_at"] is not None

    assert api.delete("/v1/quotas/p1/Cluster").status_code == 204
    assert "id" not in api.get("/v1/quotas/p1/Cluster").json()


def test_create_defaults_to_cluster_with_a_limit_of_one(api: ApiClient) -> None:
    response = api.post("/v1/quotas", json={"project_id": "p1"})
    assert response.status_code == 201, response.text
    assert response.json()["resource"] == "Cluster" and response.json()["hard_limit"] == 1


def test_create_accepts_a_zero_limit_and_ignores_read_only_attributes(api: ApiClient) -> None:
    created = make_quota(api, "p1", hard_limit=0, id=999, created_at="yesterday")
    assert created["hard_limit"] == 0 and created["id"] != 999


@pytest.mark.parametrize(("body", "message"), [
    ({"resource": "Cluster", "hard_limit": 2}, "Must provide a valid project ID."),
    ({"project_id": None, "hard_limit": 2}, "Must provide a valid project ID."),
    ({"project_id": "x" * 256}, "project_id"),
    ({"project_id": ""}, "project_id"),
    ({"project_id": "p1", "resource": "Nodes"}, "resource"),
    ({"project_id": "p1", "hard_limit": -1}, "hard_limit"),
    ({"project_id": "p1", "hard_limit": 2**31}, "hard_limit"),
    ({"project_id": "p1", "hard_limit": 10**20}, "hard_limit"),
    ({"project_id": "p1", "hard_limit": "many"}, "hard_limit"),
    ({"project_id": "p1", "color": "red"}, "Unknown attribute for argument quota: color"),
])
def test_create_rejects_bad_bodies(api: ApiClient, body: dict[str, Any], message: str) -> None:
    assert_error(api.post("/v1/quotas", json=body), 400, message)


def test_create_rejects_a_body_that_is_not_an_object(api: ApiClient) -> None:
    assert_error(api.post("/v1/quotas", json=["p1"]), 400, "quota")


def test_duplicate_quota_is_a_conflict(api: ApiClient) -> None:
    make_quota(api, "p1")
    response = api.post("/v1/quotas", json={"project_id": "p1", "hard_limit": 9})
    assert_error(response, 409, "Quota for project p1 already exists for resource Cluster.")


def test_missing_quota_gives_the_configured_default_without_id(api: ApiClient) -> None:
    response = api.get("/v1/quotas/p3/Cluster")
    assert response.status_code == 200
    assert response.json() == {"hard_limit": 20, "project_id": "p3", "resource": "Cluster"}


@pytest.fixture
def api_with_default_5(tmp_path: Path, db_url: str) -> Iterator[ApiClient]:
    from magna.cmd.api import build_app

    conf = make_conf(tmp_path, db_url, quotas={"max_clusters_per_project": 5})
    with TestClient(build_app(conf)) as client:
        yield ApiClient(client)


def test_default_follows_max_clusters_per_project(api_with_default_5: ApiClient) -> None:
    assert api_with_default_5.get("/v1/quotas/p3/Cluster").json()["hard_limit"] == 5


def test_update_takes_project_and_resource_from_the_path(api: ApiClient) -> None:
    make_quota(api, "p1", hard_limit=2)
    make_quota(api, "p2", hard_limit=2)
    response = api.patch("/v1/quotas/p1/Cluster",
                         json={"project_id": "p2", "resource": "Cluster", "hard_limit": 8})
    assert response.status_code == 202
    assert response.json()["project_id"] == "p1" and response.json()["hard_limit"] == 8
    assert api.get("/v1/quotas/p2/Cluster").json()["hard_limit"] == 2


def test_update_validates_its_body(api: ApiClient) -> None:
    make_quota(api, "p1")
    response = api.patch("/v1/quotas/p1/Cluster", json={"hard_limit": -3})
    assert_error(response, 400, "hard_limit")
    assert_error(api.patch("/v1/quotas/p1/Cluster", json={"hard_limit": 10**20}), 400,
                 "hard_limit")
    assert_error(api.patch("/v1/quotas/p1/Cluster", json=[{"op": "replace"}]), 400, "quota")


def test_update_or_delete_of_a_missing_quota_is_not_found(api: ApiClient) -> None:
    body = {"project_id": "p9", "resource": "Cluster", "hard_limit": 3}
    message = "Quota could not be found: project_id p9 resource Cluster."
    assert_error(api.patch("/v1/quotas/p9/Cluster", json=body), 404, message)
    assert_error(api.delete("/v1/quotas/p9/Cluster"), 404, message)


def test_list_shows_own_project_unless_admin_asks_for_all_tenants(api: ApiClient) -> None:
    make_quota(api, "admin")
    make_quota(api, "p1")
    own = api.get("/v1/quotas").json()["quotas"]
    assert [q["project_id"] for q in own] == ["admin"]
    everyone = api.get("/v1/quotas?all_tenants=True").json()["quotas"]
    assert [q["project_id"] for q in everyone] == ["admin", "p1"]
    assert list(everyone[0]) == QUOTA_KEYS


def test_list_pages_by_integer_id(api: ApiClient) -> None:
    ids = [make_quota(api, f"p{n}")["id"] for n in range(3)]
    first = api.get("/v1/quotas?all_tenants=1&limit=2").json()
    assert [q["id"] for q in first["quotas"]] == ids[:2]
    assert f"marker={ids[1]}" in first["next"] and "all_tenants=True" in first["next"]
    rest = api.get(f"/v1/quotas?all_tenants=1&limit=2&marker={ids[1]}").json()
    assert [q["id"] for q in rest["quotas"]] == ids[2:] and "next" not in rest
    newest = api.get("/v1/quotas?all_tenants=yes&sort_key=id&sort_dir=desc").json()
    assert [q["id"] for q in newest["quotas"]] == ids[::-1]


@pytest.mark.parametrize(("query", "status", "message"), [
    ("marker=12345", 404, "Marker 12345 could not be found."),
    ("marker=abc", 400, "marker"),
    ("all_tenants=maybe", 400, "all_tenants"),
    ("limit=0", 400, "Limit must be positive"),
    ("sort_key=colour", 400, 'The sort_key value "colour" is an invalid field for sorting'),
])
def test_list_rejects_bad_parameters(api: ApiClient, query: str, status: int,
                                     message: str) -> None:
    assert_error(api.get(f"/v1/quotas?{query}"), status, message)


def test_non_admins_read_only_their_own_quota(api: ApiClient) -> None:
    make_quota(api, "p1", hard_limit=4)
    reader = api.as_user("p1", roles="reader")
    assert reader.get("/v1/quotas/p1/Cluster").json()["hard_limit"] == 4
    assert_error(reader.get("/v1/quotas/p2/Cluster"), 403, "Not authorized.")
    assert_error(api.as_user("p1", roles="").get("/v1/quotas/p1/Cluster"), 403,
                 "Policy doesn't allow quota:get to be performed.")


def test_only_admins_list_and_write_quotas(api: ApiClient) -> None:
    make_quota(api, "p1")
    member = api.as_user("p1")
    body = {"project_id": "p1", "resource": "Cluster", "hard_limit": 50}
    assert_error(member.get("/v1/quotas"), 403, "quota:get_all")
    assert_error(member.post("/v1/quotas", json={**body, "project_id": "p2"}), 403,
                 "Policy doesn't allow quota:create to be performed.")
    assert_error(member.patch("/v1/quotas/p1/Cluster", json=body), 403, "quota:update")
    assert_error(member.delete("/v1/quotas/p1/Cluster"), 403, "quota:delete")


def test_cluster_create_stops_at_the_project_quota(api: ApiClient) -> None:
    make_quota(api, "p1", hard_limit=1)
    member = api.as_user("p1")
    template = make_template(member)["uuid"]
    make_cluster(member, template, name="first")
    response = member.post("/v1/clusters", json={"name": "second",
                                                 "cluster_template_id": template})
    error = assert_error(response, 403, "Resource limit exceeded")
    assert "maximum clusters per project, 1." in error["detail"]
    other = api.as_user("p2")
    make_cluster(other, make_template(other)["uuid"], name="elsewhere")


def test_raising_the_quota_lets_the_project_create_again(api: ApiClient) -> None:
    make_quota(api, "p1", hard_limit=0)
    member = api.as_user("p1")
    template = make_template(member)["uuid"]
    body = {"name": "c1", "cluster_template_id": template}
    assert_error(member.post("/v1/clusters", json=body), 403, "Resource limit exceeded")
    api.patch("/v1/quotas/p1/Cluster", json={"hard_limit": 1})
    assert member.post("/v1/clusters", json=body).status_code == 202
