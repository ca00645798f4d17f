"""User stories: a template setting the local drivers cannot honour is a 400 that names it.

The shipped drivers (local-swarm and local-kubernetes, both enabled by default) each implement
one network driver and the ``vm`` server type; asking for anything else is refused at template
create and update, before anything is stored, with the setting's name and what is offered.
Each concern's own refusals (storage, networks, labels) have their tests beside the concern.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import ApiClient, assert_error, make_template, template_body

KUBERNETES = {"coe": "kubernetes", "image_id": "fedora-coreos-latest"}


def _count(api: ApiClient) -> int:
    return len(api.get("/v1/clustertemplates").json()["clustertemplates"])


@pytest.mark.parametrize(("overrides", "refused", "offered"), [
    ({"network_driver": "flannel"}, "network_driver flannel", "docker only"),
    ({**KUBERNETES, "network_driver": "calico"}, "network_driver calico", "flannel only"),
])
def test_a_network_driver_the_driver_does_not_implement_is_refused(
        api: ApiClient, overrides: dict[str, Any], refused: str, offered: str) -> None:
    response = api.post("/v1/clustertemplates", json=template_body(**overrides))
    error = assert_error(response, 400, refused)
    assert offered in error["detail"]
    assert _count(api) == 0


def test_each_driver_takes_its_own_network_driver_and_fills_in_the_default(
        api: ApiClient) -> None:
    assert make_template(api, name="s", network_driver="docker")["network_driver"] == "docker"
    assert make_template(api, name="k", **KUBERNETES)["network_driver"] == "flannel"


def test_a_template_update_to_a_refused_network_driver_keeps_the_old_one(
        api: ApiClient) -> None:
    template = make_template(api, **KUBERNETES)
    url = f"/v1/clustertemplates/{template['uuid']}"
    response = api.patch(url, json=[{"op": "replace", "path": "/network_driver",
                                     "value": "calico"}])
    assert_error(response, 400, "network_driver calico")
    assert api.get(url).json()["network_driver"] == "flannel"


def test_bare_metal_is_refused_with_the_cluster_type(api: ApiClient) -> None:
    response = api.post("/v1/clustertemplates", json=template_body(server_type="bm"))
    assert_error(response, 400, "(bm, debian, swarm-mode)")
    assert _count(api) == 0


def test_a_kubernetes_template_without_tls_is_refused(api: ApiClient) -> None:
    response = api.post("/v1/clustertemplates",
                        json=template_body(**KUBERNETES, tls_disabled=True))
    assert_error(response, 400, "tls_disabled true is not available on the local Kubernetes")
    assert _count(api) == 0
    assert make_template(api, tls_disabled=True)["tls_disabled"] is True  # swarm: plain TCP
