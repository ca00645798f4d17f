"""Clusters as users see them before any conductor runs: intent is recorded, status is honest."""

from __future__ import annotations

from tests.support.api import ApiClient, assert_error, make_cluster, make_template

FULL_ORDER = ["uuid", "name", "cluster_template_id", "keypair", "node_count", "master_count",
              "docker_volume_size", "labels", "master_flavor_id", "flavor_id", "create_timeout",
              "links", "cluster_id", "status", "status_reason", "health_status",
              "health_status_reason", "discovery_url", "api_address", "coe_version",
              "container_version", "project_id", "user_id", "node_addresses",
              "master_addresses", "fixed_network", "fixed_subnet", "floating_ip_enabled",
              "merge_labels", "labels_overridden", "labels_added", "labels_skipped",
              "master_lb_enabled", "created_at", "updated_at"]


def test_create_is_accepted_and_stays_in_progress(api: ApiClient) -> None:
    template = make_template(api, labels={"a": "1", "b": "2"}, keypair_id=None)
    response = api.post("/v1/clusters", json={
        "name": "c1", "cluster_template_id": template["name"], "node_count": 2,
        "labels": {"b": "3", "c": "4"}, "merge_labels": True, "discovery_url": None,
        "keypair": None, "create_timeout": 60, "master_count": 1})
    assert response.status_code == 202
    uuid = response.json()["uuid"]
    body = api.get(f"/v1/clusters/{uuid}").json()
    assert list(body) == FULL_ORDER
    assert body["status"] == "CREATE_IN_PROGRESS"
    assert body["api_address"] is None and body["coe_version"] is None
    assert body["node_addresses"] == [] and body["master_addresses"] == []
    assert (body["node_count"], body["master_count"]) == (2, 1)
    assert body["cluster_template_id"] == template["uuid"]
    assert body["labels"] == {"a": "1", "b": "3", "c": "4"}
    assert body["labels_overridden"] == {"b": "2"}
    assert body["labels_added"] == {"c": "4"}
    assert body["flavor_id"] == "m1.small", "inherited from the template"


def test_stack_id_becomes_cluster_id_at_1_13(api: ApiClient) -> None:
    uuid = make_cluster(api, make_template(api)["uuid"])
    old = api.at_version("1.12").get(f"/v1/clusters/{uuid}").json()
    new = api.at_version("1.13").get(f"/v1/clusters/{uuid}").json()
    assert "stack_id" in old and "cluster_id" not in old
    assert "cluster_id" in new and "stack_id" not in new


def test_list_summary_and_detail(api: ApiClient) -> None:
    make_cluster(api, make_template(api)["uuid"], name="one")
    summary = api.get("/v1/clusters").json()["clusters"][0]
    assert set(summary) == {"uuid", "name", "cluster_template_id", "keypair", "node_count",
                            "master_count", "docker_volume_size", "labels", "master_flavor_id",
                            "flavor_id", "create_timeout", "links", "cluster_id", "status",
                            "health_status", "merge_labels"}
    detail = api.get("/v1/clusters/detail").json()["clusters"][0]
    assert list(detail) == FULL_ORDER


def test_list_summary_counts_match_show(api: ApiClient) -> None:
    # The summary list sums node counts in SQL; they must agree with what show computes.
    template = make_template(api)["uuid"]
    small = make_cluster(api, template, name="small", node_count=1)
    big = make_cluster(api, template, name="big", node_count=4)
    extra = api.post(f"/v1/clusters/{big}/nodegroups", json={"name": "extra", "node_count": 2})
    assert extra.status_code in (201, 202), extra.text
    listed = {c["uuid"]: (c["master_count"], c["node_count"])
              for c in api.get("/v1/clusters").json()["clusters"]}
    for uuid in (small, big):
        shown = api.get(f"/v1/clusters/{uuid}").json()
        assert listed[uuid] == (shown["master_count"], shown["node_count"])
    assert listed == {small: (1, 1), big: (1, 6)}


def test_default_nodegroups_carry_the_counts(api: ApiClient) -> None:
    uuid = make_cluster(api, make_template(api)["uuid"], node_count=3)
    groups = api.get(f"/v1/clusters/{uuid}/nodegroups").json()["nodegroups"]
    by_name = {g["name"]: g for g in groups}
    assert by_name["default-master"]["node_count"] == 1
    assert by_name["default-worker"]["node_count"] == 3
    assert {g["status"] for g in groups} == {"CREATE_IN_PROGRESS"}


def test_a_cluster_has_its_own_ca_from_creation(api: ApiClient) -> None:
    first = make_cluster(api, make_template(api)["uuid"], name="a")
    second = make_cluster(api, make_template(api, name="t2")["uuid"], name="b")
    pem_a = api.get(f"/v1/certificates/{first}").json()["pem"]
    pem_b = api.get(f"/v1/certificates/{second}").json()["pem"]
    assert pem_a.startswith("-----BEGIN CERTIFICATE-----") and pem_a != pem_b


def test_scaling_records_intent_without_claiming_completion(api: ApiClient) -> None:
    uuid = make_cluster(api, make_template(api)["uuid"])
    response = api.patch(f"/v1/clusters/{uuid}/?rollback=True",
                         json=[{"op": "replace", "path": "/node_count", "value": 4}])
    assert response.status_code == 202 and response.json() == {"uuid": uuid}
    body = api.get(f"/v1/clusters/{uuid}").json()
    assert body["node_count"] == 4
    assert body["status"] == "CREATE_IN_PROGRESS"
    resized = api.post(f"/v1/clusters/{uuid}/actions/resize",
                       json={"node_count": 2, "nodes_to_remove": ["node-1"]})
    assert resized.status_code == 202
    assert api.get(f"/v1/clusters/{uuid}").json()["node_count"] == 2


def test_zero_nodes_needs_1_10(api: ApiClient) -> None:
    template = make_template(api)
    assert_error(api.at_version("1.9").post("/v1/clusters", json={
        "cluster_template_id": template["uuid"], "node_count": 0}), 400, "zero")
    assert api.at_version("1.10").post("/v1/clusters", json={
        "cluster_template_id": template["uuid"], "node_count": 0}).status_code == 202


def test_health_can_be_reported_without_changing_status(api: ApiClient) -> None:
    uuid = make_cluster(api, make_template(api)["uuid"])
    response = api.patch(f"/v1/clusters/{uuid}", json=[
        {"op": "replace", "path": "/health_status", "value": "UNHEALTHY"},
        {"op": "replace", "path": "/health_status_reason", "value": "{'api': 'down'}"}])
    assert response.status_code == 202
    body = api.get(f"/v1/clusters/{uuid}").json()
    assert (body["health_status"], body["health_status_reason"]) == ("UNHEALTHY",
                                                                     {"api": "down"})
    assert body["status"] == "CREATE_IN_PROGRESS"


def test_resize_respects_nodegroup_bounds_and_the_master_group(api: ApiClient) -> None:
    uuid = make_cluster(api, make_template(api)["uuid"], labels={"min_node_count": "2"},
                        node_count=2)
    assert_error(api.post(f"/v1/clusters/{uuid}/actions/resize", json={"node_count": 1}),
                 400, "outside the allowed range")
    assert_error(api.post(f"/v1/clusters/{uuid}/actions/resize",
                          json={"node_count": 3, "nodegroup": "default-master"}), 400,
                 "master nodegroup")


def test_upgrade_records_the_new_template(api: ApiClient) -> None:
    uuid = make_cluster(api, make_template(api)["uuid"])
    target = make_template(api, name="newer", image_id="fedora-atomic-latest")
    response = api.post(f"/v1/clusters/{uuid}/actions/upgrade",
                        json={"cluster_template": "newer", "max_batch_size": 2})
    assert response.status_code == 202
    assert api.get(f"/v1/clusters/{uuid}").json()["cluster_template_id"] == target["uuid"]
    assert_error(api.post(f"/v1/clusters/{uuid}/actions/upgrade",
                          json={"cluster_template": "missing"}), 404)


def test_delete_is_a_state_not_a_row_removal(api: ApiClient) -> None:
    uuid = make_cluster(api, make_template(api)["uuid"])
    assert api.delete(f"/v1/clusters/{uuid}").status_code == 204
    assert api.get(f"/v1/clusters/{uuid}").json()["status"] == "DELETE_IN_PROGRESS"
    assert api.delete(f"/v1/clusters/{uuid}").status_code == 204, "deleting again is harmless"
    assert_error(api.patch(f"/v1/clusters/{uuid}", json=[
        {"op": "replace", "path": "/node_count", "value": 3}]), 400, "DELETE_IN_PROGRESS")


def test_tenancy_and_roles(api: ApiClient) -> None:
    alice, bob = api.as_user("project-a"), api.as_user("project-b")
    reader = api.as_user("project-a", roles="reader", user="reader-a")
    uuid = make_cluster(alice, make_template(alice)["uuid"])
    assert_error(bob.get(f"/v1/clusters/{uuid}"), 404)
    assert bob.get("/v1/clusters").json()["clusters"] == []
    assert_error(bob.delete(f"/v1/clusters/{uuid}"), 404)
    assert reader.get(f"/v1/clusters/{uuid}").status_code == 200
    assert_error(reader.delete(f"/v1/clusters/{uuid}"), 403, "cluster:delete")
    make_cluster(bob, make_template(bob)["uuid"], name="bobs")
    names = {c["name"] for c in api.get("/v1/clusters").json()["clusters"]}
    assert names == {"cluster1", "bobs"}, "the administrator lists every project"


def test_hidden_templates_are_for_admins_only(api: ApiClient) -> None:
    alice = api.as_user("admin", roles="member,reader")
    hidden = make_template(api, hidden=True)
    assert_error(alice.post("/v1/clusters", json={"cluster_template_id": hidden["uuid"]}),
                 403, "Not authorized")
