"""The Nova (``/compute/v2.1``: os-keypairs, flavors) and Glance v2 (``/image``: images)
subsets over the drivers' catalogs, in-process on a real database: bodies and statuses by
microversion, the error shapes Nova's and Glance's clients parse, keypairs shared with
``/v1/keypairs`` and owned by their user. The stock ``openstack`` client against real servers
(noauth and a real Keystone) is in ``test_catalog_clients.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization

from tests.support.api import ApiClient, assert_error, make_cluster, make_template
from tests.support.ssh import ssh_public_key

COMPUTE = "/compute/v2.1"


def nova(client: ApiClient, method: str, path: str, version: str | None = None,
         **kwargs: Any) -> httpx.Response:
    headers = {"X-OpenStack-Nova-API-Version": version} if version else {}
    return client.request(method, COMPUTE + path, headers=headers, **kwargs)


def nova_error(response: httpx.Response, status: int, fault: str, contains: str = "") -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == [fault], body
    assert body[fault]["code"] == status
    assert contains in body[fault]["message"], body
    message: str = body[fault]["message"]
    return message


def glance_error(response: httpx.Response, status: int, contains: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"].startswith(f"{status} ") and contains in body["message"], body


def upload(client: ApiClient, name: str, version: str = "2.2", **extra: Any) -> httpx.Response:
    keypair = {"name": name, "public_key": ssh_public_key(), **extra}
    return nova(client, "POST", "/os-keypairs", version, json={"keypair": keypair})


def test_version_documents(api: ApiClient) -> None:
    root = api.get("/compute/").json()["versions"][0]
    assert (root["id"], root["min_version"], root["version"]) == ("v2.1", "2.1", "2.96")
    assert root["links"][0]["href"].endswith("/compute/v2.1/")
    assert api.get(COMPUTE).json()["version"] == root
    image = api.get("/image").json()["versions"][0]
    assert image["id"].startswith("v2.") and image["links"][0]["href"].endswith("/image/v2/")
    assert api.get("/image/versions").json() == api.get("/image").json()


def test_microversions_are_negotiated_and_echoed(api: ApiClient) -> None:
    response = nova(api, "GET", "/flavors", "latest")
    assert response.headers["X-OpenStack-Nova-API-Version"] == "2.96"
    assert response.headers["OpenStack-API-Version"] == "compute 2.96"
    assert "description" in response.json()["flavors"][0]
    # The new header wins over the legacy one; absent means 2.1.
    both = api.get(f"{COMPUTE}/flavors/detail", headers={
        "OpenStack-API-Version": "compute 2.75", "X-OpenStack-Nova-API-Version": "2.1"})
    assert both.headers["X-OpenStack-Nova-API-Version"] == "2.75"
    assert both.json()["flavors"][0]["swap"] == 0
    old = nova(api, "GET", "/flavors/detail")
    assert old.headers["OpenStack-API-Version"] == "compute 2.1"
    assert old.json()["flavors"][0]["swap"] == "" and "description" not in old.json()["flavors"][0]
    nova_error(nova(api, "GET", "/flavors", "2.97"), 406, "notAcceptable",
               "Version 2.97 is not supported by the API. Minimum is 2.1 and maximum is 2.96.")
    nova_error(nova(api, "GET", "/flavors", "two"), 400, "badRequest",
               "API Version String two is of invalid format")


def test_flavors_list_detail_show_and_filters(api: ApiClient) -> None:
    listed = nova(api, "GET", "/flavors").json()["flavors"]
    assert [f["name"] for f in listed] == ["m1.tiny", "m1.small", "m1.medium", "m1.large"]
    assert set(listed[0]) == {"id", "name", "links"}
    detail = nova(api, "GET", "/flavors/detail", "2.61").json()["flavors"]
    small = {f["name"]: f for f in detail}["m1.small"]
    assert (small["ram"], small["vcpus"], small["disk"], small["extra_specs"]) == (2048, 1, 20, {})
    assert small["os-flavor-access:is_public"] is True
    assert nova(api, "GET", f"/flavors/{small['id']}", "2.61").json()["flavor"] == small
    query = "?minRam=4096&sort_key=memory_mb&sort_dir=desc"
    assert [f["name"] for f in nova(api, "GET", "/flavors" + query).json()["flavors"]] == [
        "m1.large", "m1.medium"]
    assert nova(api, "GET", "/flavors?is_public=false").json()["flavors"] == []
    page = nova(api, "GET", "/flavors?limit=3").json()
    rest = httpx.URL(page["flavors_links"][0]["href"])
    assert [f["id"] for f in page["flavors"]] == ["1", "2", "3"]
    assert nova(api, "GET", f"/flavors?{rest.query.decode()}").json()["flavors"][0]["id"] == "4"
    assert nova(api, "GET", "/flavors/1/os-extra_specs").json() == {"extra_specs": {}}
    nova_error(nova(api, "GET", "/flavors/m1.small"), 404, "itemNotFound",
               "Flavor m1.small could not be found.")
    nova_error(nova(api, "GET", "/flavors?name=x"), 400, "badRequest", "query parameters name")
    nova_error(nova(api, "GET", "/flavors?minRam=-1"), 400, "badRequest", "minRam")
    nova_error(nova(api, "GET", "/flavors?marker=99"), 400, "badRequest", "marker [99]")


def test_keypairs_by_microversion(api: ApiClient) -> None:
    old = upload(api, "old", "2.1")
    assert old.status_code == 200 and "type" not in old.json()["keypair"]
    made = upload(api, "new", "2.2")
    assert made.status_code == 201
    body = made.json()["keypair"]
    assert (body["type"], body["user_id"]) == ("ssh", "admin") and "private_key" not in body
    assert len(body["fingerprint"].split(":")) == 16
    shown = nova(api, "GET", "/os-keypairs/new", "2.2").json()["keypair"]
    assert shown["public_key"] == body["public_key"] and shown["deleted"] is False
    assert shown["created_at"] and isinstance(shown["id"], int)
    listed = nova(api, "GET", "/os-keypairs").json()["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["new", "old"]
    assert nova(api, "DELETE", "/os-keypairs/old", "2.1").status_code == 202
    assert nova(api, "DELETE", "/os-keypairs/new", "2.2").status_code == 204
    assert nova(api, "GET", "/os-keypairs").json() == {"keypairs": []}
    nova_error(upload(api, "typed", "2.1", type="ssh"), 400, "badRequest", "'type' needs")
    nova_error(upload(api, "x5", "2.2", type="x509"), 400, "badRequest", "type x509")
    nova_error(nova(api, "GET", "/os-keypairs?limit=1", "2.34"), 400, "badRequest", "2.35")


def test_keypair_paging(api: ApiClient) -> None:
    for name in ("a", "b", "c"):
        assert upload(api, name).status_code == 201
    page = nova(api, "GET", "/os-keypairs?limit=2", "2.35").json()
    assert [k["keypair"]["name"] for k in page["keypairs"]] == ["a", "b"]
    rest = httpx.URL(page["keypairs_links"][0]["href"]).query.decode()
    last = nova(api, "GET", f"/os-keypairs?{rest}", "2.35").json()
    assert [k["keypair"]["name"] for k in last["keypairs"]] == ["c"]
    assert "keypairs_links" not in last


def test_generated_keys_before_2_92(api: ApiClient, tmp_path: Path) -> None:
    made = nova(api, "POST", "/os-keypairs", "2.91", json={"keypair": {"name": "gen"}})
    assert made.status_code == 201, made.text
    body = made.json()["keypair"]
    private = serialization.load_pem_private_key(body["private_key"].encode(), password=None)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    assert body["public_key"].startswith(public)
    assert (tmp_path / "keypairs" / "gen.pub").read_text().startswith(public)
    assert "private_key" not in nova(api, "GET", "/os-keypairs/gen").json()["keypair"]
    nova_error(nova(api, "POST", "/os-keypairs", "2.92", json={"keypair": {"name": "g2"}}),
               400, "badRequest", "public_key")


def test_a_nova_keypair_is_the_v1_keypair_and_the_nodes(api: ApiClient, tmp_path: Path) -> None:
    body = upload(api, "testkey").json()["keypair"]
    assert (tmp_path / "keypairs" / "testkey.pub").read_text() == body["public_key"] + "\n"
    assert api.get("/v1/keypairs/testkey").json()["public_key"] == body["public_key"]
    template = make_template(api, keypair_id="testkey")["uuid"]
    make_cluster(api, template)
    assert api.delete("/v1/keypairs/testkey").status_code == 204
    nova_error(nova(api, "GET", "/os-keypairs/testkey"), 404, "itemNotFound",
               "Keypair testkey could not be found.")


def test_keypairs_belong_to_their_user(api: ApiClient) -> None:
    alice, bob = api.as_user("p1", user="alice"), api.as_user("p1", user="bob")
    assert upload(alice, "alices").status_code == 201
    assert [k["keypair"]["name"] for k in nova(alice, "GET", "/os-keypairs").json()[
        "keypairs"]] == ["alices"]
    assert nova(bob, "GET", "/os-keypairs").json() == {"keypairs": []}
    assert bob.get("/v1/keypairs").json()["keypairs"] == []
    nova_error(nova(bob, "GET", "/os-keypairs/alices"), 404, "itemNotFound")
    nova_error(nova(bob, "DELETE", "/os-keypairs/alices"), 404, "itemNotFound")
    assert_error(bob.delete("/v1/keypairs/alices"), 404, "Keypair alices could not be found.")
    # One namespace: the name is taken for everyone.
    nova_error(upload(bob, "alices"), 409, "conflictingRequest", "already exists")
    # Bob's cluster cannot name Alice's key, even through a template he may use.
    template = make_template(alice, keypair_id="alices", public=False)["uuid"]
    make_cluster(alice, template, name="hers")
    shared = make_template(api, name="shared", keypair_id="alices", public=True)["uuid"]
    assert_error(bob.post("/v1/clusters", json={"name": "his", "cluster_template_id": shared}),
                 404, "Unable to find keypair alices.")
    # An administrator may look at Alice's keys by naming her (2.10); a member may not.
    nova_error(nova(bob, "GET", "/os-keypairs?user_id=alice", "2.10"), 403, "forbidden",
               "keypairs of user alice")
    theirs = nova(api, "GET", "/os-keypairs/alices?user_id=alice", "2.10")
    assert theirs.json()["keypair"]["user_id"] == "alice"
    nova_error(nova(api, "GET", "/os-keypairs?user_id=alice", "2.9"), 400, "badRequest", "2.10")
    assert nova(alice, "DELETE", "/os-keypairs/alices", "2.2").status_code == 204


def test_keypair_errors_in_novas_shape(api: ApiClient) -> None:
    assert upload(api, "dup").status_code == 201
    nova_error(upload(api, "dup"), 409, "conflictingRequest", "Key pair 'dup' already exists.")
    nova_error(upload(api, "../x"), 400, "badRequest", "Keypair name '../x' is invalid")
    nova_error(upload(api, "k", public_key="ssh-rsa nonsense"), 400, "badRequest",
               "Keypair data is invalid")
    nova_error(nova(api, "POST", "/os-keypairs", json={"name": "k"}), 400, "badRequest",
               "keypair")
    nova_error(nova(api, "POST", "/os-keypairs", content=b"{"), 400, "badRequest",
               "Malformed JSON")
    reader = api.as_user("p1", roles="reader")
    nova_error(upload(reader, "r"), 403, "forbidden", "keypair:create")
    nova_error(nova(api, "POST", "/servers", json={"server": {}}), 404, "itemNotFound",
               "os-keypairs and flavors only")
    nova_error(nova(api, "PUT", "/flavors/1"), 405, "badMethod")


def _names(response: httpx.Response, version: str) -> httpx.Response:
    assert response.headers["OpenStack-API-Version"] == f"compute {version}", response.headers
    assert response.headers["X-OpenStack-Nova-API-Version"] == version, response.headers
    assert "X-OpenStack-Nova-API-Version" in response.headers["Vary"]
    return response


def test_every_compute_answer_names_its_microversion_errors_too(api: ApiClient) -> None:
    assert _names(upload(api, "named", "2.10"), "2.10").status_code == 201
    nova_error(_names(upload(api, "named", "2.10"), "2.10"), 409, "conflictingRequest")
    nova_error(_names(nova(api, "GET", "/os-keypairs/nope", "2.35"), "2.35"), 404,
               "itemNotFound")
    nova_error(_names(nova(api, "GET", "/os-keypairs?limit=1", "2.1"), "2.1"), 400,
               "badRequest", "needs compute API version 2.35")
    nova_error(_names(nova(api, "POST", "/os-keypairs", "2.2", content=b"{"), "2.2"), 400,
               "badRequest", "Malformed JSON")
    reader = api.as_user("p1", roles="reader")
    nova_error(_names(upload(reader, "r", "2.2"), "2.2"), 403, "forbidden")
    nova_error(_names(nova(api, "GET", "/servers", "latest"), "2.96"), 404, "itemNotFound")
    refused = _names(nova(api, "PUT", "/flavors/1", "2.61"), "2.61")
    nova_error(refused, 405, "badMethod")
    assert refused.headers["Allow"] == "GET"
    huge = {"keypair": {"name": "big", "public_key": "x" * 200_000}}
    nova_error(_names(nova(api, "POST", "/os-keypairs", "2.92", json=huge), "2.92"), 413,
               "overLimit")
    # A version that cannot be served is refused at the one a request without any gets.
    nova_error(_names(nova(api, "GET", "/flavors", "2.97"), "2.1"), 406, "notAcceptable")
    nova_error(_names(nova(api, "GET", "/flavors", "two"), "2.1"), 400, "badRequest")
    assert _names(api.get("/compute"), "2.1").status_code == 200
    assert "X-OpenStack-Nova-API-Version" not in api.get("/image/v2/images").headers
    assert "X-OpenStack-Nova-API-Version" not in api.get("/v1/clusters").headers


def test_images_list_show_filters_and_paging(api: ApiClient) -> None:
    images = api.get("/image/v2/images").json()
    names = {i["name"]: i for i in images["images"]}
    debian = names["debian-12-docker"]
    assert (debian["status"], debian["visibility"], debian["os_distro"]) == (
        "active", "public", "debian")
    assert debian["self"] == f"/v2/images/{debian['id']}"
    assert api.get(f"/image/v2/images/{debian['id']}").json() == debian
    found = api.get("/image/v2/images?os_distro=fedora-coreos").json()["images"]
    assert [i["name"] for i in found] == ["fedora-coreos-latest"]
    assert api.get("/image/v2/images?name=debian-12-docker").json()["images"] == [debian]
    assert api.get("/image/v2/images?no_such_property=1").json()["images"] == []
    assert api.get("/image/v2/images?visibility=private").json()["images"] == []
    assert len(api.get("/image/v2/images?visibility=all").json()["images"]) == len(names)
    by_name = api.get("/image/v2/images?sort=name:asc").json()["images"]
    assert [i["name"] for i in by_name] == sorted(names)
    first = api.get("/image/v2/images?limit=2&sort_key=name&sort_dir=asc").json()
    assert [i["name"] for i in first["images"]] == sorted(names)[:2]
    rest = api.get("/image" + first["next"]).json()
    assert [i["name"] for i in rest["images"]] == sorted(names)[2:4]


def test_image_errors_in_glances_shape(api: ApiClient) -> None:
    glance_error(api.get("/image/v2/images/debian-12-docker"), 404,
                 "No image found with ID debian-12-docker")
    glance_error(api.post("/image/v2/images", json={"name": "x"}), 501, "read-only")
    glance_error(api.delete("/image/v2/images/x"), 501, "read-only")
    glance_error(api.get("/image/v2/images?marker=nope"), 400, "Invalid marker")
    glance_error(api.get("/image/v2/images?sort_key=size"), 400, "Invalid sort_key size")
    glance_error(api.get("/image/v2/schemas/image"), 404, "reading images only")


def test_an_administrator_creates_a_key_for_a_user(api: ApiClient) -> None:
    made = upload(api, "given", "2.10", user_id="carol")
    assert made.status_code == 201 and made.json()["keypair"]["user_id"] == "carol"
    carol = api.as_user("p2", user="carol")
    assert nova(carol, "GET", "/os-keypairs/given").json()["keypair"]["user_id"] == "carol"
    nova_error(nova(api, "GET", "/os-keypairs/given"), 404, "itemNotFound")
    nova_error(upload(carol, "taken", "2.10", user_id="dave"), 403, "forbidden",
               "keypair:create for the keypairs of user dave")


def test_an_operators_key_is_everyones_and_only_an_admin_deletes_it(
        api: ApiClient, tmp_path: Path) -> None:
    (tmp_path / "keypairs").mkdir()
    (tmp_path / "keypairs" / "ops.pub").write_text(ssh_public_key() + "\n")
    alice = api.as_user("p1", user="alice")
    shown = nova(alice, "GET", "/os-keypairs/ops", "2.10").json()["keypair"]
    assert shown["user_id"] is None
    make_cluster(alice, make_template(alice, keypair_id="ops")["uuid"])
    nova_error(nova(alice, "DELETE", "/os-keypairs/ops"), 403, "forbidden",
               "only an administrator")
    assert nova(api, "DELETE", "/os-keypairs/ops", "2.2").status_code == 204
    assert not (tmp_path / "keypairs" / "ops.pub").exists()
