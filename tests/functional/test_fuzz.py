"""Random JSON at every write endpoint: the server answers 2xx or a Magnum-shaped 4xx, never 5xx.

Runs on the embedded SQLite only, with a bounded number of examples per endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from magna.cmd.api import build_app
from tests.conftest import make_conf
from tests.support.api import ApiClient, make_cluster, make_template

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12)
FIELDS = ["name", "coe", "image_id", "flavor_id", "labels", "node_count", "master_count",
          "cluster_template_id", "public", "hidden", "nodegroup", "nodes_to_remove",
          "cluster_template", "max_batch_size", "csr", "cluster_uuid", "hard_limit",
          "project_id", "resource", "min_node_count", "max_node_count", "node_labels",
          "node_taints", "role", "docker_volume_size", "baymodel_id", "tags",
          "hostcluster_id", "member_ids", "properties"]
objects = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)
patch_ops = st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "test"]),
     "path": st.sampled_from(["/name", "/labels", "/labels/a", "/node_count", "/public",
                              "/min_node_count", "/node_labels", "/node_taints", "/x/y",
                              "/health_status", "/health_status_reason", "/uuid"]),
     "value": values}), max_size=3)
bodies = st.one_of(values, objects, patch_ops)

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiClient, str, str]]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with TestClient(build_app(make_conf(tmp))) as client:
        api = ApiClient(client)
        template = make_template(api)["uuid"]
        cluster = make_cluster(api, template)
        yield api, template, cluster


def _paths(template: str, cluster: str) -> list[tuple[str, str]]:
    return [("POST", "/v1/clustertemplates"), ("PATCH", f"/v1/clustertemplates/{template}"),
            ("POST", "/v1/clusters"), ("PATCH", f"/v1/clusters/{cluster}"),
            ("POST", f"/v1/clusters/{cluster}/actions/resize"),
            ("POST", f"/v1/clusters/{cluster}/actions/upgrade"),
            ("POST", f"/v1/clusters/{cluster}/nodegroups"),
            ("PATCH", f"/v1/clusters/{cluster}/nodegroups/default-worker"),
            ("POST", "/v1/certificates"), ("POST", "/v1/quotas"),
            ("PATCH", "/v1/quotas/p1/Cluster"), ("POST", "/v1/bays"),
            ("PATCH", f"/v1/bays/{cluster}"), ("POST", "/v1/baymodels"),
            ("POST", "/v1/federations")]


@pytest.mark.parametrize("index", range(15))
def test_no_body_makes_the_server_fail(target: tuple[ApiClient, str, str], index: int) -> None:
    api, template, cluster = target
    method, path = _paths(template, cluster)[index]

    @SETTINGS
    @given(body=bodies)
    def check(body: Any) -> None:
        response = api.request(method, path, json=body)
        assert response.status_code < 500, (method, path, body, response.text)
        if response.status_code >= 400:
            assert response.json()["errors"][0]["status"] == response.status_code

    check()
