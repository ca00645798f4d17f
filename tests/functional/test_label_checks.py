"""User stories for a driver's label check (``Driver.check_settings``) through the API.

A driver that cannot honour a label (a Kubernetes version it cannot run) refuses it when the
user asks: a 400 in Magnum's error shape at template create and update, cluster create (with
the labels the cluster ends up with after its template's) and nodegroup create, and nothing is
stored. The shipped swarm driver has no label to refuse, so a test-only subclass refuses a
``kube_tag`` this host cannot build (``version_of``) and a label it never honours.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from oslo_config import cfg
from starlette.testclient import TestClient

from magna.api.app import create_app
from magna.cmd.compose import build_services
from magna.common.exceptions import PermanentError
from magna.drivers.base import Settings
from magna.drivers.local_kubernetes.binaries import version_of
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from magna.drivers.registry import DriverRegistry
from tests.support.api import ApiClient, assert_error, make_cluster, make_template


class LabelCheckingDriver(LocalSwarmDriver):
    """The local driver with a label check; the API must ask it before storing anything."""

    def check_settings(self, settings: Settings) -> None:
        labels = settings.labels
        version_of(labels.get("kube_tag"), "v1.20.2")
        if "never" in labels:
            raise PermanentError(f"Label never={labels['never']} is never honoured.")


@dataclass
class Env:
    api: ApiClient
    nudges: list[str]

    def count(self, collection: str) -> int:
        response = self.api.get(f"/v1/{collection}")
        assert response.status_code == 200, response.text
        return len(response.json()[collection])


@pytest.fixture
def env(conf: cfg.ConfigOpts) -> Iterator[Env]:
    svc = build_services(conf)
    svc.drivers = DriverRegistry([LabelCheckingDriver(conf)])
    nudges: list[str] = []
    svc.nudge = nudges.append
    with TestClient(create_app(conf, svc)) as client:
        yield Env(ApiClient(client).as_user("p1"), nudges)


def test_template_create_refuses_a_kube_tag_the_driver_cannot_run(env: Env) -> None:
    response = env.api.post("/v1/clustertemplates", json={
        "name": "t", "coe": "swarm-mode", "image_id": "debian-12-docker",
        "external_network_id": "public", "labels": {"kube_tag": "v1.29.0"}})
    error = assert_error(response, 400, "kube_tag=v1.29.0")
    assert "available: v1.20.2" in error["detail"]
    assert env.count("clustertemplates") == 0
    assert make_template(env.api, labels={"kube_tag": "v1.20.2"})["labels"] == {
        "kube_tag": "v1.20.2"}


def test_a_driver_permanent_refusal_is_a_400_too(env: Env) -> None:
    response = env.api.post("/v1/clustertemplates", json={
        "name": "t", "coe": "swarm-mode", "image_id": "debian-12-docker",
        "external_network_id": "public", "labels": {"never": "x"}})
    error = assert_error(response, 400, "Label never=x is never honoured.")
    assert error["code"] == "client"


def test_template_update_refuses_the_label_and_keeps_the_old_one(env: Env) -> None:
    template = make_template(env.api, labels={"kube_tag": "v1.20.2"})
    url = f"/v1/clustertemplates/{template['uuid']}"
    response = env.api.patch(url, json=[{"op": "replace", "path": "/labels/kube_tag",
                                         "value": "v1.21.0"}])
    assert_error(response, 400, "kube_tag=v1.21.0")
    assert env.api.get(url).json()["labels"] == {"kube_tag": "v1.20.2"}


def test_cluster_create_checks_its_own_labels(env: Env) -> None:
    template = make_template(env.api)
    response = env.api.post("/v1/clusters", json={
        "name": "c", "cluster_template_id": template["uuid"], "master_count": 1,
        "node_count": 1, "labels": {"kube_tag": "1.19.16"}})
    assert_error(response, 400, "kube_tag=1.19.16")
    assert env.count("clusters") == 0
    assert env.nudges == []


def test_cluster_create_checks_labels_merged_with_the_templates(env: Env) -> None:
    template = make_template(env.api, labels={"kube_tag": "v1.20.2"})
    response = env.api.post("/v1/clusters", json={
        "name": "c", "cluster_template_id": template["uuid"], "master_count": 1,
        "node_count": 1, "labels": {"never": "1"}, "merge_labels": True})
    assert_error(response, 400, "Label never=1")
    assert env.count("clusters") == 0
    uuid = make_cluster(env.api, template["uuid"], labels={"extra": "1"}, merge_labels=True)
    labels = env.api.get(f"/v1/clusters/{uuid}").json()["labels"]
    assert labels == {"kube_tag": "v1.20.2", "extra": "1"}


def test_nodegroup_create_checks_the_labels_it_would_have(env: Env) -> None:
    uuid = make_cluster(env.api, make_template(env.api)["uuid"])
    url = f"/v1/clusters/{uuid}/nodegroups"
    response = env.api.post(url, json={"name": "extra", "node_count": 1,
                                       "labels": {"kube_tag": "v2.0.0"}})
    assert_error(response, 400, "kube_tag=v2.0.0")
    names = [ng["name"] for ng in env.api.get(url).json()["nodegroups"]]
    assert "extra" not in names
    accepted = env.api.post(url, json={"name": "extra", "node_count": 1,
                                       "labels": {"kube_tag": "v1.20.2"}})
    assert accepted.status_code == 202, accepted.text
