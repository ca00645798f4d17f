"""User stories for the network settings of the local drivers, through the API.

The operator declares private networks (``[local_nodes] private_networks``); a template or
cluster naming one as ``fixed_network`` (or its subnet as ``fixed_subnet``) is accepted, an
unknown one is a 404 in upstream's words, a subnet of another network a 400;
``floating_ip_enabled`` false and an ``apiserver_port`` other than the driver's own are 400s
that say why. Nothing refused is stored, and nothing is built: the real drivers answer the
checks, no conductor runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from magna.api.app import create_app
from magna.cmd.compose import build_services
from magna.drivers.local_nodes import private_networks
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from tests.conftest import make_conf
from tests.support.api import ApiClient, assert_error, make_cluster, make_template

NETWORKS = ["shared=10.232.0.0/16", "backend:backend-v4=10.233.0.0/20"]


@dataclass
class Env:
    api: ApiClient
    nudges: list[str]

    def count(self, collection: str) -> int:
        response = self.api.get(f"/v1/{collection}")
        assert response.status_code == 200, response.text
        return len(response.json()[collection])


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    conf = make_conf(tmp_path, db_url, local_nodes={"private_networks": NETWORKS})
    svc = build_services(conf)
    nudges: list[str] = []
    svc.nudge = nudges.append
    with TestClient(create_app(conf, svc)) as client:
        yield Env(ApiClient(client).as_user("p1"), nudges)


def _template(env: Env, **fields: object) -> object:
    return env.api.post("/v1/clustertemplates", json={
        "name": "t", "coe": "swarm-mode", "image_id": "debian-12-docker",
        "external_network_id": "public", **fields})


def test_a_template_names_a_private_network_by_name_or_id_and_its_subnet(env: Env) -> None:
    shared = private_networks.parse(NETWORKS)[0]
    assert make_template(env.api, fixed_network="shared")["fixed_network"] == "shared"
    assert make_template(env.api, name="by-id", fixed_network=shared.id,
                         fixed_subnet="shared-subnet")["fixed_subnet"] == "shared-subnet"
    # a subnet alone implies its network; its id and its CIDR name it too
    make_template(env.api, name="subnet-only", fixed_subnet="backend-v4")
    make_template(env.api, name="subnet-cidr", fixed_subnet="10.233.0.0/20")
    make_template(env.api, name="subnet-id", fixed_subnet=shared.subnet_id)


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"fixed_network": "nowhere"}, 404, "Unable to find fixed network nowhere."),
    ({"fixed_subnet": "nowhere-subnet"}, 404, "Unable to find fixed subnet nowhere-subnet."),
    ({"fixed_network": "shared", "fixed_subnet": "backend-v4"}, 400,
     "fixed_subnet backend-v4 is not a subnet of fixed_network shared; its subnet is "
     "shared-subnet (10.232.0.0/16)."),
    ({"fixed_network": "public"}, 400, "fixed_network public is the external network"),
    ({"floating_ip_enabled": False}, 400,
     "floating_ip_enabled false is not available on the local Swarm driver"),
    ({"apiserver_port": 6443}, 400,
     "apiserver_port 6443 is not available on the local Swarm driver; its clusters serve "
     "their API on port 2375."),
])
def test_template_create_refuses(env: Env, fields: dict[str, object], status: int,
                                 message: str) -> None:
    assert_error(_template(env, **fields), status, message)  # type: ignore[arg-type]
    assert env.count("clustertemplates") == 0


def test_the_drivers_own_port_is_accepted(env: Env) -> None:
    assert make_template(env.api, apiserver_port=2375)["apiserver_port"] == 2375
    kube = make_template(env.api, name="k", coe="kubernetes", apiserver_port=6443,
                         image_id="fedora-coreos-latest")
    assert kube["apiserver_port"] == 6443
    assert_error(_template(env, coe="kubernetes", image_id="fedora-coreos-latest",
                           apiserver_port=2375), 400,
                 "apiserver_port 2375 is not available on the local Kubernetes driver; its "
                 "clusters serve their API on port 6443.")


def test_template_update_refuses_an_unknown_network_and_keeps_the_old_one(env: Env) -> None:
    template = make_template(env.api, fixed_network="shared")
    url = f"/v1/clustertemplates/{template['uuid']}"
    response = env.api.patch(url, json=[{"op": "replace", "path": "/fixed_network",
                                         "value": "elsewhere"}])
    assert_error(response, 404, "Unable to find fixed network elsewhere.")
    assert env.api.get(url).json()["fixed_network"] == "shared"


def test_cluster_create_checks_its_network_with_the_templates(env: Env) -> None:
    template = make_template(env.api, fixed_network="shared")["uuid"]
    body = {"name": "c", "cluster_template_id": template, "master_count": 1, "node_count": 1}
    assert_error(env.api.post("/v1/clusters", json={**body, "fixed_network": "nowhere"}), 404,
                 "Unable to find fixed network nowhere.")
    # the template's network with another network's subnet
    assert_error(env.api.post("/v1/clusters", json={**body, "fixed_subnet": "backend-v4"}),
                 400, "fixed_subnet backend-v4 is not a subnet of fixed_network shared")
    assert_error(env.api.post("/v1/clusters", json={**body, "floating_ip_enabled": False}),
                 400, "floating_ip_enabled false")
    assert env.count("clusters") == 0 and env.nudges == []
    uuid = make_cluster(env.api, template, fixed_subnet="shared-subnet")
    shown = env.api.get(f"/v1/clusters/{uuid}").json()
    assert (shown["fixed_network"], shown["fixed_subnet"]) == ("shared", "shared-subnet")
    # a nodegroup of that cluster is checked with the network it inherits, and accepted
    added = env.api.post(f"/v1/clusters/{uuid}/nodegroups", json={"name": "extra",
                                                                  "node_count": 1})
    assert added.status_code == 202, added.text


def test_the_catalog_lists_public_and_the_private_networks(tmp_path: Path) -> None:
    conf = make_conf(tmp_path, local_nodes={"private_networks": NETWORKS})
    found = {(n.name, n.external) for n in LocalSwarmDriver(conf).catalog.networks()}
    assert found == {("public", True), ("shared", False), ("backend", False)}


@pytest.mark.parametrize(("entries", "message"), [
    (["shared"], "entry 'shared' is not NAME=CIDR"),
    (["shared=10.232.0.1/16"], "has host bits set"),
    (["a=10.232.0.0/16", "b=10.232.1.0/24"], "a (10.232.0.0/16) and b (10.232.1.0/24) overlap"),
    (["a=10.232.0.0/16", "a=10.234.0.0/16"], "the name 'a' is used twice"),
    (["public=10.232.0.0/16"], "the name 'public'"),
    (["small=10.232.0.0/25"], "is smaller than one cluster subnet ([local_swarm] "
                              "subnet_prefix 24)"),
    (["inside=10.231.4.0/22"], "overlaps [local_swarm] subnet_pool 10.231.0.0/16"),
    (["far=192.168.0.0/16"], "must lie within the /10 of [local_swarm] subnet_pool"),
])
def test_a_bad_option_stops_the_driver_naming_it(tmp_path: Path, entries: list[str],
                                                 message: str) -> None:
    conf = make_conf(tmp_path, local_nodes={"private_networks": entries})
    with pytest.raises(ValueError, match=r"\[local_nodes\] private_networks") as caught:
        LocalSwarmDriver(conf)
    assert message in str(caught.value)
