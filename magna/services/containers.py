"""Containers on swarm-mode clusters: record the user's intent; exec and logs answer at once.

Create, the lifecycle actions and delete store the desired state and bump ``generation`` in one
transaction, then nudge the conductor that owns the cluster; the conductor carries the intent
out on the cluster's engines through the driver's ``ContainerHosting`` ability and records the
status the engine reports. ``exec`` and ``logs`` need an answer within the request, so they call
the driver directly from here (see docs/decisions.md): the driver reaches the engine with a
client certificate signed by the cluster's CA.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from magna.common.context import RequestContext
from magna.common.exceptions import Conflict, Invalid
from magna.db import models, repository
from magna.db.models import utcnow
from magna.db.repository import Scope
from magna.domain import clusters as lifecycle
from magna.domain import containers as rules
from magna.domain import names
from magna.domain.paging import Page
from magna.drivers.base import (
    ClusterPKI,
    ContainerHosting,
    ContainerPlace,
    ContainerSpec,
    ExecResult,
)
from magna.services import Services, pki, scope_for, target_of
from magna.services import clusters as cluster_service
from magna.services.readmodels import ContainerRecord

COE = "swarm-mode"


def _load(session: Session, svc: Services, ctx: RequestContext, ident: str,
          action: str) -> models.Container:
    scope = scope_for(svc, ctx, "container", action)
    return repository.get_by_ident(session, models.Container, ident, scope, "container")


def get(svc: Services, ctx: RequestContext, ident: str) -> ContainerRecord:
    with svc.transaction() as session:
        container = _load(session, svc, ctx, ident, "get_one")
    svc.authz.authorize(ctx, "container:get", target_of(container))
    return container


def list_(svc: Services, ctx: RequestContext, page: Page, cluster: str | None = None
          ) -> Sequence[ContainerRecord]:
    """A page of the caller's containers (every project's for admins), of one cluster if
    ``cluster`` (a name or UUID the caller can see) is given."""
    svc.authz.authorize(ctx, "container:get_all")
    scope = scope_for(svc, ctx, "container", "get_all")
    with svc.transaction() as session:
        where = []
        if cluster:
            found = cluster_service.load(session, svc, ctx, cluster, "get_one")
            where.append(models.Container.cluster_uuid == found.uuid)
        return repository.list_page(session, models.Container, scope, page, where)


def create(svc: Services, ctx: RequestContext, data: Mapping[str, Any]) -> ContainerRecord:
    svc.authz.authorize(ctx, "container:create")
    with svc.transaction() as session:
        cluster = cluster_service.load(session, svc, ctx, str(data["cluster"]), "get_one")
        template = repository.get_template_by_uuid(session, cluster.cluster_template_id)
        _check_cluster(svc, cluster, template)
        container = models.Container(
            uuid=str(uuidlib.uuid4()), name=data.get("name") or names.generate("container"),
            project_id=ctx.project_id, user_id=ctx.user_id, cluster_uuid=cluster.uuid,
            image=data["image"], command=list(data.get("command") or []),
            environment=dict(data.get("environment") or {}), memory=data.get("memory"),
            desired_state=rules.RUNNING, status=rules.CREATING, generation=1)
        repository.add(session, container, "A container with that UUID already exists.")
    svc.nudge(cluster.uuid)
    return container


def _check_cluster(svc: Services, cluster: models.Cluster,
                   template: models.ClusterTemplate) -> None:
    if template.coe != COE:
        raise Invalid(f"Containers run on swarm-mode clusters only; cluster {cluster.name} is "
                      f"{template.coe}.")
    if not isinstance(cluster_service.driver_for(svc, template), ContainerHosting):
        raise Invalid(f"The driver of cluster {cluster.name} cannot run containers.")
    if cluster.desired_state == lifecycle.ABSENT or cluster.status not in lifecycle.UPDATABLE:
        raise Conflict(f"Cluster {cluster.name} is {cluster.status}; containers can be created "
                       "only on a cluster whose status is *_COMPLETE.")


def act(svc: Services, ctx: RequestContext, ident: str, action: str) -> ContainerRecord:
    """Record a lifecycle action (start, stop, reboot, pause, unpause) for the conductor."""
    with svc.transaction() as session:
        container = _load(session, svc, ctx, ident, "action")
        svc.authz.authorize(ctx, f"container:{action}", target_of(container))
        try:
            change = rules.transition(action, container.desired_state, container.status)
        except rules.ActionRefused as exc:
            raise Conflict(f"Cannot {action} container {container.name}: {exc}") from None
        container.desired_state = change.desired
        container.generation += 1
        if change.reboot:
            container.reboot_generation = container.generation
        container.updated_at = utcnow()
    svc.nudge(container.cluster_uuid)
    return container


def delete(svc: Services, ctx: RequestContext, ident: str) -> None:
    with svc.transaction() as session:
        container = _load(session, svc, ctx, ident, "delete")
        svc.authz.authorize(ctx, "container:delete", target_of(container))
        if container.desired_state != rules.ABSENT:
            container.desired_state = rules.ABSENT
            container.generation += 1
        container.status, container.status_reason = rules.DELETING, None
        container.updated_at = utcnow()
    svc.nudge(container.cluster_uuid)


# -- synchronous: exec and logs ----------------------------------------------------------------

def exec_(svc: Services, ctx: RequestContext, ident: str, command: Sequence[str]
          ) -> ExecResult:
    driver, place, spec = _engine_target(svc, ctx, ident, "execute")
    return driver.exec_in_container(place, spec, command)


def logs(svc: Services, ctx: RequestContext, ident: str, tail: int | None) -> str:
    driver, place, spec = _engine_target(svc, ctx, ident, "logs")
    return driver.container_logs(place, spec, tail)


def _engine_target(svc: Services, ctx: RequestContext, ident: str, action: str
                   ) -> tuple[ContainerHosting, ContainerPlace, ContainerSpec]:
    with svc.transaction() as session:
        container = _load(session, svc, ctx, ident, "action")
        svc.authz.authorize(ctx, f"container:{action}", target_of(container))
        if container.desired_state == rules.ABSENT:
            raise Conflict(f"Container {container.name} is being deleted.")
        if not container.container_id or not container.host:
            raise Conflict(f"Container {container.name} is not on an engine yet "
                           f"(status {container.status}).")
        cluster = repository.get_by_ident(session, models.Cluster, container.cluster_uuid,
                                          Scope(None, all_projects=True), "cluster")
        template = repository.get_template_by_uuid(session, cluster.cluster_template_id)
        driver = cluster_service.driver_for(svc, template)
        if not isinstance(driver, ContainerHosting):
            raise Invalid(f"The driver of cluster {cluster.name} cannot run containers.")
        ca_pem = pki.ca_of(svc, session, cluster).certificate_pem
        place = place_of(cluster, template, _SigningCA(svc, cluster, ca_pem))
        return driver, place, spec_of(container)


class _SigningCA:
    """The cluster's CA as ``ClusterPKI``: signing goes through ``services.pki.sign``."""

    def __init__(self, svc: Services, cluster: models.Cluster, ca_pem: str) -> None:
        self._svc, self._cluster, self._ca_pem = svc, cluster, ca_pem

    @property
    def ca_pem(self) -> str:
        return self._ca_pem

    def sign(self, csr_pem: str) -> str:
        with self._svc.transaction() as session:
            return pki.sign(self._svc, session, self._cluster, csr_pem)


# -- shared with the conductor -----------------------------------------------------------------

def place_of(cluster: models.Cluster, template: models.ClusterTemplate,
             ca: ClusterPKI) -> ContainerPlace:
    """The cluster's engines as recorded by the conductor: masters first, then workers."""
    groups = sorted(cluster.nodegroups, key=lambda ng: (ng.role != "master", ng.id))
    nodes = [address for ng in groups for address in ng.node_addresses]
    return ContainerPlace(cluster_uuid=cluster.uuid, nodes=tuple(nodes), pki=ca,
                          tls_disabled=template.tls_disabled, labels=dict(cluster.labels or {}))


def spec_of(container: models.Container) -> ContainerSpec:
    return ContainerSpec(
        uuid=container.uuid, name=container.name or container.uuid, image=container.image,
        command=tuple(container.command or ()), environment=dict(container.environment or {}),
        memory_mb=container.memory, desired=container.desired_state,
        reboot=container.reboot_generation > container.observed_generation,
        engine_id=container.container_id, host=container.host)
