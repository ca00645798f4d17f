"""Cluster templates as users see them: fields, visibility, publishing, patches, deletion."""

from __future__ import annotations

from tests.support.api import ApiClient, assert_error, make_cluster, make_template

ORDER = ["uuid", "name", "coe", "image_id", "flavor_id", "master_flavor_id", "dns_nameserver",
         "keypair_id", "external_network_id", "fixed_network", "fixed_subnet", "network_driver",
         "apiserver_port", "docker_volume_size", "cluster_distro", "links", "http_proxy",
         "https_proxy", "no_proxy", "volume_driver", "registry_enabled", "labels",
         "tls_disabled", "public", "server_type", "insecure_registry", "docker_storage_driver",
         "master_lb_enabled", "floating_ip_enabled", "project_id", "user_id", "hidden", "tags",
         "driver", "created_at", "updated_at"]


def test_create_returns_the_full_template_in_magnums_order(api: ApiClient) -> None:
    response = api.post("/v1/clustertemplates", json={
        "name": "t", "coe": "swarm-mode", "image_id": "fedora-atomic-latest",
        "labels": {"n": 1, "b": True}, "keypair_id": None, "uuid":
        "0b7e36ce-5a4c-4b45-9a6e-6f1f8c0f4a11"})
    assert response.status_code == 201
    body = response.json()
    assert list(body) == ORDER
    assert body["uuid"] == "0b7e36ce-5a4c-4b45-9a6e-6f1f8c0f4a11", "a client uuid is honoured"
    assert body["labels"] == {"n": "1", "b": "True"}
    assert body["network_driver"] == "docker"
    assert body["cluster_distro"] == "fedora-atomic"
    assert body["driver"] == "local-swarm"
    assert response.headers["Location"].endswith("/v1/clustertemplates/" + body["uuid"])
    assert body["links"][0]["href"].endswith("/v1/clustertemplates/" + body["uuid"])


def test_kubernetes_templates_go_to_the_local_kubernetes_driver(api: ApiClient) -> None:
    response = api.post("/v1/clustertemplates", json={"coe": "kubernetes",
                                                      "image_id": "fedora-coreos-latest"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["driver"], body["network_driver"], body["cluster_distro"]) == \
        ("local-kubernetes", "flannel", "fedora-coreos")


def test_a_kube_tag_that_is_not_there_is_refused_naming_what_is(api: ApiClient) -> None:
    response = api.post("/v1/clustertemplates", json={
        "coe": "kubernetes", "image_id": "fedora-coreos-latest",
        "labels": {"kube_tag": "v1.31.0"}})
    assert_error(response, 400, "v1.31.0")
    assert "v1.20.2" in response.json()["errors"][0]["detail"]


def test_name_is_generated_when_absent(api: ApiClient) -> None:
    body = make_template(api, name=None)
    assert body["name"].endswith("-template")


def test_lookup_by_name_uuid_and_integer_id(api: ApiClient) -> None:
    body = make_template(api, name="by-name")
    assert api.get("/v1/clustertemplates/by-name").json()["uuid"] == body["uuid"]
    assert api.get(f"/v1/clustertemplates/{body['uuid']}").json()["name"] == "by-name"


def test_pagination_follows_next_links(api: ApiClient) -> None:
    for i in range(5):
        make_template(api, name=f"t{i}")
    seen: list[str] = []
    url = "/v1/clustertemplates?limit=2&sort_key=name&sort_dir=desc"
    while url:
        body = api.get(url).json()
        seen += [t["name"] for t in body["clustertemplates"]]
        url = body.get("next", "").replace("http://testserver", "")
    assert seen == ["t4", "t3", "t2", "t1", "t0"]


def test_other_projects_private_templates_are_invisible(api: ApiClient) -> None:
    alice, bob = api.as_user("project-a"), api.as_user("project-b")
    private = make_template(alice, name="private")
    assert_error(bob.get(f"/v1/clustertemplates/{private['uuid']}"), 404)
    assert bob.get("/v1/clustertemplates").json()["clustertemplates"] == []
    assert_error(bob.patch(f"/v1/clustertemplates/{private['uuid']}",
                           json=[{"op": "replace", "path": "/name", "value": "x"}]), 404)
    assert_error(bob.delete(f"/v1/clustertemplates/{private['uuid']}"), 404)


def test_only_admins_publish_and_public_templates_are_shared(api: ApiClient) -> None:
    alice, bob = api.as_user("project-a"), api.as_user("project-b")
    assert_error(alice.post("/v1/clustertemplates", json={
        "coe": "swarm-mode", "image_id": "debian-12-docker", "public": True}), 403,
        "public or hidden")
    shared = make_template(api, name="shared", public=True)
    assert [t["name"] for t in bob.get("/v1/clustertemplates").json()["clustertemplates"]] == [
        "shared"]
    assert bob.get(f"/v1/clustertemplates/{shared['uuid']}").status_code == 200
    hidden = make_template(api, name="hidden", public=True, hidden=True)
    assert_error(bob.get(f"/v1/clustertemplates/{hidden['uuid']}"), 404)
    own = make_template(alice, name="own")
    assert_error(alice.patch(f"/v1/clustertemplates/{own['uuid']}", json=[
        {"op": "replace", "path": "/public", "value": True}]), 403)


def test_readers_read_but_do_not_write(api: ApiClient) -> None:
    member, reader = api.as_user("p"), api.as_user("p", roles="reader")
    body = make_template(member)
    assert reader.get(f"/v1/clustertemplates/{body['uuid']}").status_code == 200
    assert_error(reader.post("/v1/clustertemplates", json={
        "coe": "swarm-mode", "image_id": "debian-12-docker"}), 403, "clustertemplate:create")
    assert_error(reader.delete(f"/v1/clustertemplates/{body['uuid']}"), 403)


def test_patch_updates_labels_and_revalidates(api: ApiClient) -> None:
    body = make_template(api, labels={"a": "1"})
    url = f"/v1/clustertemplates/{body['uuid']}"
    patched = api.patch(url, json=[{"op": "add", "path": "/labels/b", "value": "2"},
                                   {"op": "remove", "path": "/labels/a"},
                                   {"op": "replace", "path": "/flavor_id", "value": "m1.large"},
                                   {"op": "replace", "path": "/tls_disabled", "value": "true"}])
    assert patched.status_code == 200, patched.text
    assert patched.json()["labels"] == {"b": "2"}
    assert patched.json()["tls_disabled"] is True
    assert patched.json()["updated_at"] is not None
    replaced = api.patch(url, json=[{"op": "replace", "path": "/labels", "value": "{'x': 1}"}])
    assert replaced.json()["labels"] == {"x": "1"}
    assert_error(api.patch(url, json=[{"op": "replace", "path": "/flavor_id",
                                       "value": "m9.nope"}]), 400, "Unable to find flavor")
    removed = api.patch(url, json=[{"op": "remove", "path": "/flavor_id"}])
    assert removed.json()["flavor_id"] is None


def test_templates_in_use_only_take_cosmetic_changes(api: ApiClient) -> None:
    body = make_template(api)
    make_cluster(api, body["uuid"])
    url = f"/v1/clustertemplates/{body['uuid']}"
    assert api.patch(url, json=[{"op": "replace", "path": "/name", "value": "n2"}]
                     ).status_code == 200
    assert api.patch(url, json=[{"op": "add", "path": "/tags", "value": "a,b"}]
                     ).status_code == 200
    assert_error(api.patch(url, json=[{"op": "replace", "path": "/flavor_id",
                                       "value": "m1.large"}]), 400, "referenced by")
    assert_error(api.delete(url), 400, "referenced by one or multiple clusters")


def test_delete_then_gone(api: ApiClient) -> None:
    body = make_template(api)
    assert api.delete(f"/v1/clustertemplates/{body['uuid']}").status_code == 204
    assert_error(api.get(f"/v1/clustertemplates/{body['uuid']}"), 404)


def test_detail_lists_the_same_full_objects(api: ApiClient) -> None:
    make_template(api)
    plain = api.get("/v1/clustertemplates").json()["clustertemplates"]
    detail = api.get("/v1/clustertemplates/detail").json()["clustertemplates"]
    assert plain == detail and list(plain[0]) == ORDER


def test_kubernetes_network_labels_are_checked_at_the_api(api: ApiClient) -> None:
    for labels, named in (({"flannel_backend": "vxlan"}, "flannel_backend=vxlan"),
                          ({"flannel_network_cidr": "10.0.0.0/33"}, "flannel_network_cidr"),
                          ({"service_cluster_ip_range": "10.100.0.0/16"}, "overlaps")):
        response = api.post("/v1/clustertemplates", json={
            "coe": "kubernetes", "image_id": "fedora-coreos-latest", "labels": labels})
        assert_error(response, 400, named)
