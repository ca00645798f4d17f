"""User stories for the local drivers' label rules through the API, with the real drivers and
nothing built: a label Magnum documents for the COE is honoured and checked, or refused with a
400 naming it, at template create and update, cluster create (with merged labels) and nodegroup
create, and nothing is stored; a user's own label is kept as metadata."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from oslo_config import cfg
from starlette.testclient import TestClient

from magna.api.app import create_app
from magna.cmd.compose import build_services
from magna.drivers.local_kubernetes.driver import LocalKubernetesDriver
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from magna.drivers.registry import DriverRegistry
from tests.support.api import ApiClient, assert_error, make_cluster, make_template


@dataclass
class Env:
    api: ApiClient

    def count(self, collection: str) -> int:
        response = self.api.get(f"/v1/{collection}")
        assert response.status_code == 200, response.text
        return len(response.json()[collection])


@pytest.fixture
def env(conf: cfg.ConfigOpts) -> Iterator[Env]:
    svc = build_services(conf)
    svc.drivers = DriverRegistry([LocalSwarmDriver(conf), LocalKubernetesDriver(conf)])
    svc.nudge = lambda uuid: None  # nothing is built: these stories end at the API
    with TestClient(create_app(conf, svc)) as client:
        yield Env(ApiClient(client).as_user("p1"))


def _template(env: Env, coe: str, labels: dict[str, Any]) -> Any:
    return env.api.post("/v1/clustertemplates", json={
        "name": "t", "coe": coe, "image_id": "debian-12-docker", "external_network_id": "public",
        "flavor_id": "m1.small", "master_flavor_id": "m1.small", "labels": labels})


def test_a_swarm_strategy_the_driver_does_not_have_is_refused(env: Env) -> None:
    error = assert_error(_template(env, "swarm-mode", {"swarm_strategy": "bogus"}), 400,
                         "Label swarm_strategy=bogus is not accepted by the local Swarm driver")
    assert "accepted: spread, binpack, random" in error["detail"]
    assert env.count("clustertemplates") == 0
    created = _template(env, "swarm-mode", {"swarm_strategy": "binpack"})
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(("labels", "says"), [
    ({"flannel_backend": "vxlan"}, "routes each node's pod subnet natively"),
    ({"flannel_backend": "udp"}, "Accepted: host-gw"),
    ({"cloud_provider_enabled": "true"}, "Label cloud_provider_enabled=true"),
    ({"flannel_network_cidr": "10.100.0.0/33"}, "Label flannel_network_cidr=10.100.0.0/33"),
    ({"service_cluster_ip_range": "everywhere"}, "Label service_cluster_ip_range=everywhere"),
    ({"kubelet_options": "--fail-swap-on=false"}, "a flag could weaken its seal"),
    ({"calico_ipv4pool": "10.100.0.0/16"}, "Calico"),
    ({"ingress_controller": "octavia"}, "ingress controller"),
    ({"container_runtime": "containerd"}, "no containerd runtime"),
])
def test_kubernetes_templates_refuse_what_the_driver_does_not_do(
        env: Env, labels: dict[str, str], says: str) -> None:
    assert_error(_template(env, "kubernetes", labels), 400, says)
    assert env.count("clustertemplates") == 0


def test_values_that_ask_for_what_the_driver_does_are_accepted(env: Env) -> None:
    labels = {"flannel_backend": "host-gw", "cloud_provider_enabled": "false",
              "cgroup_driver": "cgroupfs", "container_runtime": "docker",
              "kube_tag": "v1.20.2", "flannel_network_cidr": "10.200.0.0/16",
              "flannel_network_subnetlen": "25", "auto_healing_enabled": "true"}
    created = _template(env, "kubernetes", labels)
    assert created.status_code == 201, created.text
    assert created.json()["labels"] == labels


def test_a_users_own_labels_are_kept_as_metadata(env: Env) -> None:
    for coe in ("swarm-mode", "kubernetes"):
        mine = {"team": "blue", "cost-centre": "42"}
        created = _template(env, coe, mine)
        assert created.status_code == 201, created.text
        url = f"/v1/clustertemplates/{created.json()['uuid']}"
        assert env.api.get(url).json()["labels"] == mine


def test_template_update_refuses_the_label_and_keeps_the_old_ones(env: Env) -> None:
    created = _template(env, "kubernetes", {"team": "blue"})
    url = f"/v1/clustertemplates/{created.json()['uuid']}"
    response = env.api.patch(url, json=[{"op": "add", "path": "/labels/kubeapi_options",
                                         "value": "--allow-privileged=true"}])
    assert_error(response, 400, "Label kubeapi_options=--allow-privileged=true")
    assert env.api.get(url).json()["labels"] == {"team": "blue"}


def test_cluster_create_checks_its_labels_merged_with_the_templates(env: Env) -> None:
    template = make_template(env.api, labels={"swarm_strategy": "spread"})
    response = env.api.post("/v1/clusters", json={
        "name": "c", "cluster_template_id": template["uuid"], "master_count": 1,
        "node_count": 1, "labels": {"rexray_preempt": "true"}, "merge_labels": True})
    assert_error(response, 400, "Label rexray_preempt=true")
    assert env.count("clusters") == 0
    bad = env.api.post("/v1/clusters", json={
        "name": "c", "cluster_template_id": template["uuid"], "master_count": 1,
        "node_count": 1, "labels": {"swarm_strategy": "packed"}})
    assert_error(bad, 400, "Label swarm_strategy=packed")
    uuid = make_cluster(env.api, template["uuid"], labels={"swarm_strategy": "random",
                                                            "team": "blue"},
                        merge_labels=True)
    assert env.api.get(f"/v1/clusters/{uuid}").json()["labels"] == {
        "swarm_strategy": "random", "team": "blue"}


def test_nodegroup_create_checks_the_labels_it_would_have(env: Env) -> None:
    uuid = make_cluster(env.api, make_template(env.api)["uuid"])
    url = f"/v1/clusters/{uuid}/nodegroups"
    response = env.api.post(url, json={"name": "extra", "node_count": 1,
                                       "labels": {"availability_zone": "az-2"}})
    assert_error(response, 400, "Label availability_zone=az-2")
    names = [ng["name"] for ng in env.api.get(url).json()["nodegroups"]]
    assert "extra" not in names
    accepted = env.api.post(url, json={"name": "extra", "node_count": 1,
                                       "labels": {"team": "red"}})
    assert accepted.status_code == 202, accepted.text


def test_node_count_labels_bound_the_default_worker_nodegroup(env: Env) -> None:
    template = make_template(env.api)
    assert_error(env.api.post("/v1/clusters", json={
        "name": "c", "cluster_template_id": template["uuid"], "master_count": 1,
        "node_count": 1, "labels": {"max_node_count": "many"}}), 400,
        "Label max_node_count=many")
    uuid = make_cluster(env.api, template["uuid"], labels={"min_node_count": "1",
                                                            "max_node_count": "3"})
    worker = env.api.get(f"/v1/clusters/{uuid}/nodegroups/default-worker").json()
    assert (worker["min_node_count"], worker["max_node_count"]) == (1, 3)
