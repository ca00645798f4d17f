"""User stories for ``PATCH /v1/credentials/{cluster}`` (1.12+).

The shipped driver cannot rotate credentials, so the ordinary answer is upstream's 400. A driver
subclass with the optional ``CredentialRotation`` ability shows the accepted path: the request is
recorded as an update of the cluster and the conductor is nudged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from oslo_config import cfg
from sqlalchemy import select
from starlette.testclient import TestClient

from magna.api.app import create_app
from magna.cmd.compose import build_services
from magna.db import models
from magna.drivers.base import CredentialRotation
from magna.drivers.local_swarm.driver import LocalSwarmDriver
from magna.drivers.registry import DriverRegistry
from magna.services import Services
from tests.support.api import ApiClient, assert_error, make_cluster, make_template


class RotatingSwarmDriver(LocalSwarmDriver, CredentialRotation):
    """The local driver with the optional ability; the API only checks for the interface."""

    def rotate_credential(self, cluster_uuid: str) -> None:
        raise AssertionError("the API must not call the driver on the request path")


@dataclass
class Env:
    admin: ApiClient
    owner: ApiClient
    svc: Services
    nudges: list[str]
    cluster: str

    @property
    def path(self) -> str:
        return f"/v1/credentials/{self.cluster}"

    def cluster_row(self) -> models.Cluster:
        with self.svc.transaction() as session:
            return session.scalars(select(models.Cluster)
                                   .where(models.Cluster.uuid == self.cluster)).one()


def _env(conf: cfg.ConfigOpts, *, rotating: bool) -> Iterator[Env]:
    svc = build_services(conf)
    if rotating:
        svc.drivers = DriverRegistry([RotatingSwarmDriver(conf)])
    nudges: list[str] = []
    svc.nudge = nudges.append
    with TestClient(create_app(conf, svc)) as client:
        admin = ApiClient(client)
        owner = admin.as_user("p1")
        cluster = make_cluster(owner, make_template(owner)["uuid"])
        nudges.clear()
        yield Env(admin, owner, svc, nudges, cluster)


@pytest.fixture
def plain(conf: cfg.ConfigOpts) -> Iterator[Env]:
    yield from _env(conf, rotating=False)


@pytest.fixture
def rotating(conf: cfg.ConfigOpts) -> Iterator[Env]:
    yield from _env(conf, rotating=True)


@pytest.mark.parametrize("version", ["1.11", "1.1", None])
def test_rotation_needs_microversion_1_12(plain: Env, version: str | None) -> None:
    assert_error(plain.owner.at_version(version).patch(plain.path), 406, "1.12")


def test_rotation_is_not_supported_by_the_local_driver(plain: Env) -> None:
    error = assert_error(plain.owner.patch(plain.path), 400,
                         "Credential rotation is not supported by driver.")
    assert error["code"] == "client"
    assert plain.cluster_row().generation == 1
    assert plain.nudges == []


def test_rotation_is_recorded_when_the_driver_can_rotate(rotating: Env) -> None:
    with rotating.svc.transaction() as session:
        session.scalars(select(models.Cluster)).one().status = "CREATE_COMPLETE"
    for ident in (rotating.cluster, "cluster1"):
        response = rotating.owner.at_version("1.12").patch(f"/v1/credentials/{ident}")
        assert response.status_code == 202, response.text
        assert response.json() == {"uuid": rotating.cluster}
    cluster = rotating.cluster_row()
    assert (cluster.status, cluster.generation) == ("UPDATE_IN_PROGRESS", 3)
    assert rotating.nudges == [rotating.cluster, rotating.cluster]


def test_rotation_while_the_cluster_is_created_keeps_creating(rotating: Env) -> None:
    assert rotating.owner.patch(rotating.path).status_code == 202
    assert rotating.cluster_row().status == "CREATE_IN_PROGRESS"


def test_rotation_on_a_cluster_being_deleted_is_400(rotating: Env) -> None:
    assert rotating.owner.delete(f"/v1/clusters/{rotating.cluster}").status_code == 204
    assert_error(rotating.owner.patch(rotating.path), 400, "DELETE_IN_PROGRESS")


def test_rotation_of_an_unknown_cluster_is_404(rotating: Env) -> None:
    assert_error(rotating.owner.patch("/v1/credentials/nope"), 404,
                 "Cluster nope could not be found.")


def test_rotation_policy_is_checked_on_the_callers_project(rotating: Env) -> None:
    reader = rotating.admin.as_user("p1", roles="reader")
    assert_error(reader.patch(rotating.path), 403,
                 "Policy doesn't allow credential:rotate to be performed.")
    # The rule is checked before the lookup, so a reader learns nothing about the cluster.
    assert_error(reader.patch("/v1/credentials/nope"), 403, "credential:rotate")
    colleague = rotating.admin.as_user("p1", user="bob")
    assert colleague.patch(rotating.path).status_code == 202
    stranger = rotating.admin.as_user("p2")
    assert_error(stranger.patch(rotating.path), 404, "could not be found")
    assert rotating.admin.patch(rotating.path).status_code == 202
    admin_only = rotating.admin.as_user("p9", roles="admin")
    assert_error(admin_only.patch(rotating.path), 403, "credential:rotate")
