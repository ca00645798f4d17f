"""Legacy baymodels: cluster templates under their Magnum <= 16 name and policy rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import api_with_policy_file
from tests.support.api import ApiClient, assert_error, make_template, template_body


def make_baymodel(api: ApiClient, **overrides: Any) -> dict[str, Any]:
    response = api.post("/v1/baymodels", json=template_body(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_create_answers_201_with_the_baymodel(api: ApiClient) -> None:
    response = api.post("/v1/baymodels", json=template_body(name="bm"))
    assert response.status_code == 201, response.text
    baymodel = response.json()
    assert response.headers["location"].endswith(f"/v1/baymodels/{baymodel['uuid']}")
    assert [link["href"].split("/")[-2] for link in baymodel["links"]] == ["baymodels"] * 2
    assert baymodel["name"] == "bm" and baymodel["coe"] == "swarm-mode"


def test_a_baymodel_is_a_cluster_template_and_back(api: ApiClient) -> None:
    baymodel = make_baymodel(api, name="legacy")
    template = api.get(f"/v1/clustertemplates/{baymodel['uuid']}").json()
    assert list(template) == list(baymodel)
    assert {k: v for k, v in template.items() if k != "links"} == \
        {k: v for k, v in baymodel.items() if k != "links"}
    modern = make_template(api, name="modern")
    assert api.get(f"/v1/baymodels/{modern['uuid']}").json()["name"] == "modern"


def test_list_and_detail_use_the_baymodels_key(api: ApiClient) -> None:
    uuids = [make_baymodel(api, name=f"bm{n}")["uuid"] for n in range(3)]
    listed = api.get("/v1/baymodels").json()
    assert set(listed) == {"baymodels"} and [b["uuid"] for b in listed["baymodels"]] == uuids
    page = api.get("/v1/baymodels/detail?limit=2").json()
    assert [b["uuid"] for b in page["baymodels"]] == uuids[:2]
    assert "/v1/baymodels/detail?" in page["next"] and f"marker={uuids[1]}" in page["next"]
    assert page["baymodels"][0] == listed["baymodels"][0]


def test_get_by_uuid_or_name(api: ApiClient) -> None:
    uuid = make_baymodel(api, name="bm")["uuid"]
    assert api.get(f"/v1/baymodels/{uuid}").json()["name"] == "bm"
    assert api.get("/v1/baymodels/bm").json()["uuid"] == uuid
    make_baymodel(api, name="bm")
    assert_error(api.get("/v1/baymodels/bm"), 409,
                 "Multiple baymodels exist with same name. Please use the baymodel uuid "
                 "instead.")


def test_update_answers_200_with_the_baymodel(api: ApiClient) -> None:
    uuid = make_baymodel(api)["uuid"]
    response = api.patch(f"/v1/baymodels/{uuid}", json=[
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/labels/k", "value": "v"}])
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "renamed" and response.json()["labels"] == {"k": "v"}
    assert response.json()["links"][0]["href"].endswith(f"/v1/baymodels/{uuid}")


def test_update_validates_the_patch(api: ApiClient) -> None:
    uuid = make_baymodel(api)["uuid"]
    assert_error(api.patch(f"/v1/baymodels/{uuid}", json=[
        {"op": "remove", "path": "/coe"}]), 400, "'/coe' is a mandatory attribute")
    assert_error(api.patch(f"/v1/baymodels/{uuid}", json={"name": "x"}), 400, "patch")


def test_delete_answers_204(api: ApiClient) -> None:
    uuid = make_baymodel(api)["uuid"]
    response = api.delete(f"/v1/baymodels/{uuid}")
    assert response.status_code == 204 and response.content == b""
    assert_error(api.get(f"/v1/baymodels/{uuid}"), 404, f"Baymodel {uuid} could not be found.")


def test_a_baymodel_in_use_cannot_be_deleted(api: ApiClient) -> None:
    uuid = make_baymodel(api)["uuid"]
    assert api.post("/v1/bays", json={"baymodel_id": uuid}).status_code == 202
    assert_error(api.delete(f"/v1/baymodels/{uuid}"), 400,
                 f"Baymodel {uuid} is referenced by one or multiple bays.")


def test_unknown_baymodels_are_not_found_as_baymodels(api: ApiClient) -> None:
    patch = [{"op": "replace", "path": "/name", "value": "x"}]
    for response in (api.get("/v1/baymodels/ghost"), api.delete("/v1/baymodels/ghost"),
                     api.patch("/v1/baymodels/ghost", json=patch)):
        assert_error(response, 404, "Baymodel ghost could not be found.")


@pytest.mark.parametrize(("overrides", "message"), [
    ({"coe": None}, "coe"),
    ({"coe": "mesos"}, "coe"),
    ({"apiserver_port": 80}, "apiserver_port"),
    ({"colour": "red"}, "Unknown attribute for argument baymodel: colour"),
])
def test_create_rejects_bad_bodies(api: ApiClient, overrides: dict[str, Any],
                                   message: str) -> None:
    body = {k: v for k, v in template_body(**overrides).items() if v is not None}
    assert_error(api.post("/v1/baymodels", json=body), 400, message)


def test_another_projects_private_baymodel_is_not_found(api: ApiClient) -> None:
    owner, stranger = api.as_user("p1"), api.as_user("p2")
    uuid = make_baymodel(owner)["uuid"]
    assert_error(stranger.get(f"/v1/baymodels/{uuid}"), 404, "could not be found")
    assert_error(stranger.delete(f"/v1/baymodels/{uuid}"), 404, "could not be found")
    assert stranger.get("/v1/baymodels").json() == {"baymodels": []}


def test_baymodel_rules_govern_baymodels(api: ApiClient) -> None:
    uuid = make_baymodel(api.as_user("p1"))["uuid"]
    reader = api.as_user("p1", roles="reader")
    assert reader.get(f"/v1/baymodels/{uuid}").status_code == 200
    assert_error(reader.post("/v1/baymodels", json=template_body()), 403,
                 "Policy doesn't allow baymodel:create to be performed.")
    assert_error(reader.patch(f"/v1/baymodels/{uuid}", json=[
        {"op": "replace", "path": "/name", "value": "x"}]), 403, "baymodel:update")
    assert_error(reader.delete(f"/v1/baymodels/{uuid}"), 403, "baymodel:delete")
    nobody = api.as_user("p1", roles="")
    assert_error(nobody.get("/v1/baymodels"), 403, "baymodel:get_all")
    assert_error(nobody.get("/v1/baymodels/detail"), 403, "baymodel:detail")
    assert_error(nobody.get(f"/v1/baymodels/{uuid}"), 403, "baymodel:get")


def test_only_admins_publish_baymodels(api: ApiClient) -> None:
    member = api.as_user("p1")
    assert_error(member.post("/v1/baymodels", json=template_body(public=True)), 403,
                 "Not authorized to set public or hidden flag")
    uuid = make_baymodel(member)["uuid"]
    assert_error(member.patch(f"/v1/baymodels/{uuid}", json=[
        {"op": "replace", "path": "/public", "value": True}]), 403, "public or hidden")
    assert make_baymodel(api, public=True)["public"] is True


@pytest.fixture
def api_with_policy(tmp_path: Path, db_url: str) -> Iterator[ApiClient]:
    """Anyone may publish a baymodel; nobody may publish a cluster template."""
    with api_with_policy_file(tmp_path, db_url, '"baymodel:publish": "@"\n'
                              '"clustertemplate:publish": "!"\n') as client:
        yield client


def test_baymodels_are_published_under_baymodel_publish(api_with_policy: ApiClient) -> None:
    member = api_with_policy.as_user("p1")
    assert make_baymodel(member, public=True)["public"] is True
    assert_error(member.post("/v1/clustertemplates", json=template_body(public=True)), 403,
                 "Not authorized to set public or hidden flag")
