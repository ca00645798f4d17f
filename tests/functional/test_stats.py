"""Stats: a project counts its clusters and nodes; an admin counts any project or all."""

from __future__ import annotations

import pytest

from tests.support.api import ApiClient, assert_error, make_cluster, make_template


@pytest.fixture
def two_projects(api: ApiClient) -> ApiClient:
    """p1 has two clusters (1 master + 2 workers, 1 + 1); p2 has one (3 masters + 1 worker)."""
    p1, p2 = api.as_user("p1"), api.as_user("p2")
    t1 = make_template(p1)["uuid"]
    make_cluster(p1, t1, name="a", node_count=2)
    make_cluster(p1, t1, name="b")
    t2 = make_template(p2, master_lb_enabled=True)["uuid"]
    make_cluster(p2, t2, name="c", master_count=3)
    return api


def test_empty_cloud_has_no_clusters_or_nodes(api: ApiClient) -> None:
    response = api.get("/v1/stats")
    assert response.status_code == 200
    assert response.json() == {"clusters": 0, "nodes": 0}


def test_admin_sees_every_project_or_the_one_asked_for(two_projects: ApiClient) -> None:
    api = two_projects
    assert api.get("/v1/stats").json() == {"clusters": 3, "nodes": 9}
    assert api.get("/v1/stats?project_id=p1").json() == {"clusters": 2, "nodes": 5}
    assert api.get("/v1/stats?project_id=p2&type=cluster").json() == {"clusters": 1,
                                                                      "nodes": 4}


def test_non_admin_sees_only_their_own_project(two_projects: ApiClient) -> None:
    reader = two_projects.as_user("p1", roles="reader")
    assert reader.get("/v1/stats").json() == {"clusters": 2, "nodes": 5}
    assert reader.get("/v1/stats?project_id=p1").json() == {"clusters": 2, "nodes": 5}
    assert_error(reader.get("/v1/stats?project_id=p2"), 403, "Not authorized.")


def test_type_is_cluster_in_any_case(api: ApiClient) -> None:
    assert api.get("/v1/stats?type=CLUSTER").status_code == 200
    assert_error(api.get("/v1/stats?type=node"), 400,
                 "Invalid stats type. Allowed values are 'cluster'")


def test_caller_without_a_role_is_refused(api: ApiClient) -> None:
    assert_error(api.as_user("p1", roles="").get("/v1/stats"), 403,
                 "Policy doesn't allow stats:get_all to be performed.")


def test_stats_are_served_at_the_minimum_version(api: ApiClient) -> None:
    assert api.at_version(None).get("/v1/stats").status_code == 200


def test_a_caller_without_a_project_never_sees_everyone(two_projects: ApiClient) -> None:
    projectless = ApiClient(two_projects.client, {"X-User-Id": "u1", "X-Roles": "reader"})
    response = projectless.get("/v1/stats")
    assert response.status_code == 403, response.text
