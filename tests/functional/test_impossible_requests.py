"""Requests that can never succeed are a 400 (or Magnum's 404/409) when they are made, in
Magnum's error shape, and leave nothing behind: impossible node counts (checked with the
cluster's driver, which knows how many nodes a cluster can hold), catalog entries that do not
exist, and names two clusters share after racing for them."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from magna.cmd.api import build_app
from tests.conftest import make_conf
from tests.support.api import ApiClient, assert_error, make_cluster, make_template

HUGE = 2**40


@pytest.fixture
def lb_template(api: ApiClient) -> str:
    uuid: str = make_template(api, master_lb_enabled=True)["uuid"]
    return uuid


@pytest.mark.parametrize(("counts", "fragment"), [
    ({"master_count": 0}, "master_count"),
    ({"master_count": -3}, "master_count"),
    ({"master_count": 4}, "size cannot be an even number"),
    ({"master_count": 10**9 + 1}, "holds at most 253 nodes"),
    ({"master_count": HUGE + 1}, "counts may not exceed 2147483647"),
    ({"node_count": -1}, "node_count"),
    ({"node_count": 253}, "holds at most 253 nodes (one /24 subnet per cluster), not 254"),
    ({"node_count": 10**9}, "[local_swarm] subnet_prefix"),
    ({"node_count": HUGE}, "counts may not exceed 2147483647"),
    ({"master_count": 3, "node_count": 251}, "not 254"),
])
def test_impossible_counts_on_create_are_400(api: ApiClient, lb_template: str,
                                             counts: dict[str, int], fragment: str) -> None:
    before = api.get("/v1/clusters").json()["clusters"]
    response = api.post("/v1/clusters", json={"cluster_template_id": lb_template, **counts})
    assert_error(response, 400, fragment)
    assert api.get("/v1/clusters").json()["clusters"] == before


def test_the_largest_cluster_that_fits_is_accepted(api: ApiClient, lb_template: str) -> None:
    make_cluster(api, lb_template, master_count=3, node_count=250)


def test_impossible_counts_on_update_resize_and_nodegroup_create_are_400(
        api: ApiClient, lb_template: str) -> None:
    cluster = make_cluster(api, lb_template, node_count=2)
    before = api.get(f"/v1/clusters/{cluster}").json()
    for count, fragment in ((253, "not 254"), (HUGE, "counts may not exceed")):
        assert_error(api.patch(f"/v1/clusters/{cluster}", json=[
            {"op": "replace", "path": "/node_count", "value": count}]), 400, fragment)
        assert_error(api.post(f"/v1/clusters/{cluster}/actions/resize",
                              json={"node_count": count}), 400, fragment)
    assert_error(api.post(f"/v1/clusters/{cluster}/nodegroups",
                          json={"name": "big", "node_count": 251}), 400, "not 254")
    after = api.get(f"/v1/clusters/{cluster}").json()
    assert (after["node_count"], after["status"]) == (2, before["status"])
    groups = api.get(f"/v1/clusters/{cluster}/nodegroups").json()["nodegroups"]
    assert "big" not in [ng["name"] for ng in groups]
    # a nodegroup that still fits next to the others is fine
    assert api.post(f"/v1/clusters/{cluster}/nodegroups",
                    json={"name": "fits", "node_count": 250}).status_code == 202


@contextlib.contextmanager
def _api(tmp_path: Path, db_url: str, **groups: dict[str, Any]) -> Iterator[ApiClient]:
    with TestClient(build_app(make_conf(tmp_path, db_url, **groups))) as client:
        yield ApiClient(client)


def test_room_follows_the_subnet_prefix(tmp_path: Path, db_url: str) -> None:
    with _api(tmp_path, db_url, local_swarm={"subnet_prefix": 28}) as api:
        template = make_template(api)["uuid"]
        assert_error(api.post("/v1/clusters", json={"cluster_template_id": template,
                                                    "node_count": 13}),
                     400, "at most 13 nodes (one /28 subnet per cluster), not 14")
        make_cluster(api, template, node_count=12)


def test_the_fake_driver_answers_too(tmp_path: Path, db_url: str) -> None:
    with _api(tmp_path, db_url, drivers={"enabled_drivers": ["fake"]}) as api:
        template = make_template(api, image_id="fake-image")["uuid"]
        assert_error(api.post("/v1/clusters", json={"cluster_template_id": template,
                                                    "node_count": 254}),
                     400, "A fake cluster holds at most 254 nodes")


def test_unknown_catalog_entries_name_the_bad_value(api: ApiClient) -> None:
    assert_error(api.post("/v1/clustertemplates", json={
        "coe": "swarm-mode", "image_id": "debian-12-docker", "master_flavor_id": "m7.giant"}),
        400, "Unable to find flavor m7.giant")
    template = make_template(api)["uuid"]
    for field in ("flavor_id", "master_flavor_id"):
        assert_error(api.post("/v1/clusters", json={"cluster_template_id": template,
                                                    field: "x9.odd"}),
                     400, "Unable to find flavor x9.odd")
    keyed = make_template(api, keypair_id="ghost-key")["uuid"]
    assert_error(api.post("/v1/clusters", json={"cluster_template_id": keyed}),
                 404, "Unable to find keypair ghost-key")
    assert api.get("/v1/clusters").json()["clusters"] == []
    cluster = make_cluster(api, template)
    for body, fragment in (({"flavor_id": "x9.odd"}, "Unable to find flavor x9.odd"),
                           ({"image_id": "no-such-os"}, "Image no-such-os could not be found"),
                           ({"image_id": "fake-image"}, "Image fake-image could not be found")):
        assert_error(api.post(f"/v1/clusters/{cluster}/nodegroups",
                              json={"name": "extra", **body}), 400, fragment)
    groups = api.get(f"/v1/clusters/{cluster}/nodegroups").json()["nodegroups"]
    assert sorted(ng["name"] for ng in groups) == ["default-master", "default-worker"]


def test_two_clusters_racing_for_one_name(api: ApiClient, lb_template: str) -> None:
    """Magnum allows duplicate cluster names; both creates succeed, and from then on the name
    is ambiguous: lookups by name are 409 and the uuids still work."""
    barrier = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def create() -> None:
        barrier.wait()
        answers.append(api.post("/v1/clusters", json={"name": "twin",
                                                       "cluster_template_id": lb_template}))

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [202, 202]
    uuids = {answer.json()["uuid"] for answer in answers}
    assert len(uuids) == 2
    for method in ("GET", "DELETE"):
        assert_error(api.request(method, "/v1/clusters/twin"), 409,
                     "Multiple clusters exist with same name. Please use the cluster uuid")
    for uuid in uuids:
        assert api.get(f"/v1/clusters/{uuid}").json()["name"] == "twin"
