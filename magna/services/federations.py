"""Federations (``/v1/federations``): record which clusters of a project belong together.

Upstream Magnum answers these calls and stores nothing. Magna stores the federation and its
memberships, and builds nothing else: there is no federation control plane, the record is the
membership. So a federation is complete as soon as its checks pass (``CREATE_COMPLETE``, and
``UPDATE_COMPLETE`` after a change), and nothing is handed to the conductor.

Clusters are referenced in the same transaction that checks them, under a shared row lock
(``repository.get_by_ident(shared_lock=True)``); a cluster's delete request takes the row
``FOR UPDATE`` (``cluster_deleting``), so on PostgreSQL a federation naming a cluster and that
cluster's deletion never both succeed on a stale read (SQLite serializes writers anyway). A
cluster that hosts a federation cannot be deleted (409 naming it); a member's delete request
removes its memberships in the delete's own transaction (see ``cluster_deleting`` for why then).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from magna.common.context import RequestContext
from magna.common.exceptions import Conflict, Invalid
from magna.db import models, repository
from magna.db.models import utcnow
from magna.domain import federations as rules
from magna.domain import names, patch
from magna.domain.paging import Page
from magna.services import Services, scope_for, target_of
from magna.services.readmodels import FederationRecord

INTERNAL = ("/status", "/status_reason")
MANDATORY = ("/member_ids", "/properties", "/hostcluster_id")
DOCUMENT_FIELDS = ("uuid", "name", "hostcluster_id", "member_ids", "properties", "status",
                   "status_reason")


class _Clusters:
    """The clusters one request names, looked up (locked, shared) once each."""

    def __init__(self, session: Session, svc: Services, ctx: RequestContext) -> None:
        self.session = session
        self.scope = scope_for(svc, ctx, "cluster", "get_one")
        self.found: dict[str, models.Cluster] = {}

    def get(self, ident: str) -> models.Cluster:
        if ident not in self.found:
            cluster = repository.get_by_ident(self.session, models.Cluster, ident, self.scope,
                                              "cluster", shared_lock=True)
            self.found[ident] = self.found[cluster.uuid] = cluster
        return self.found[ident]

    def uuid_of(self, ident: str) -> str:
        return self.get(ident).uuid

    def eligible(self, ident: str, *, role: str, project_id: str | None) -> models.Cluster:
        cluster = self.get(ident)
        rules.check_eligible(role=role, ident=ident, status=cluster.status,
                             desired_state=cluster.desired_state, project_id=cluster.project_id,
                             federation_project=project_id)
        return cluster


def create(svc: Services, ctx: RequestContext, data: Mapping[str, Any]) -> FederationRecord:
    svc.authz.authorize(ctx, "federation:create")
    properties = rules.check_properties(data.get("properties"))
    idents = rules.check_members(list(data.get("member_ids") or []))
    with svc.transaction() as session:
        clusters = _Clusters(session, svc, ctx)
        host = clusters.get(str(data["hostcluster_id"]))
        clusters.eligible(str(data["hostcluster_id"]), role="host", project_id=host.project_id)
        federation = models.Federation(
            uuid=str(uuidlib.uuid4()), name=data.get("name") or names.generate("federation"),
            project_id=host.project_id, user_id=ctx.user_id, hostcluster_id=host.uuid,
            properties=properties, status=rules.CREATE_COMPLETE)
        repository.add(session, federation, "A federation with that UUID already exists.")
        _set_members(session, clusters, federation, idents)
        session.flush()
        session.refresh(federation, attribute_names=["members"])
    return federation


def _set_members(session: Session, clusters: _Clusters, federation: models.Federation,
                 idents: list[str]) -> None:
    """Make the memberships exactly ``idents`` (names or UUIDs): newcomers must be eligible,
    members that stay are not looked at again."""
    current = set(federation.member_ids)
    uuids = [ident if ident in current else clusters.uuid_of(ident) for ident in idents]
    rules.distinct(uuids, idents)
    for gone in current - set(uuids):
        repository.remove_member(session, federation.uuid, gone)
    for uuid, ident in zip(uuids, idents, strict=True):
        if uuid not in current:
            clusters.eligible(ident, role="member", project_id=federation.project_id)
            repository.add_member(session, federation, uuid, ident)


def _load(session: Session, svc: Services, ctx: RequestContext, ident: str,
          action: str) -> models.Federation:
    scope = scope_for(svc, ctx, "federation", action)
    return repository.get_by_ident(session, models.Federation, ident, scope, "federation")


def get(svc: Services, ctx: RequestContext, ident: str) -> FederationRecord:
    with svc.reading() as session:
        federation = _load(session, svc, ctx, ident, "get_one")
    svc.authz.authorize(ctx, "federation:get", target_of(federation))
    return federation


def list_(svc: Services, ctx: RequestContext, page: Page, *, detail: bool
          ) -> list[FederationRecord]:
    action = "detail" if detail else "get_all"
    svc.authz.authorize(ctx, f"federation:{action}")
    scope = scope_for(svc, ctx, "federation", action)
    with svc.reading() as session:
        return list(repository.list_page(session, models.Federation, scope, page))


def document(federation: models.Federation) -> dict[str, Any]:
    """The patchable view of a federation (``DOCUMENT_FIELDS``)."""
    doc = {name: getattr(federation, name) for name in DOCUMENT_FIELDS}
    doc.update(member_ids=list(federation.member_ids),
               properties=dict(federation.properties))
    return doc


def update(svc: Services, ctx: RequestContext, ident: str, ops: Any) -> FederationRecord:
    with svc.transaction() as session:
        federation = _load(session, svc, ctx, ident, "update")
        svc.authz.authorize(ctx, "federation:update", target_of(federation))
        clusters = _Clusters(session, svc, ctx)
        before = document(federation)
        ops = rules.membership_ops(before["member_ids"], patch.validate_ops(ops),
                                   clusters.uuid_of, federation.name or federation.uuid)
        after = patch.apply(before, ops, internal=INTERNAL, mandatory=MANDATORY)
        changed = patch.changed_fields(before, after)
        if changed - rules.PATCHABLE:
            refused = ", ".join(sorted(changed - rules.PATCHABLE))
            raise Invalid(f"cannot change federation property(ies) {refused}.")
        if "properties" in changed:
            federation.properties = rules.check_properties(after["properties"])
        if "member_ids" in changed:
            _set_members(session, clusters, federation, rules.check_members(after["member_ids"]))
        if changed:
            _updated(federation, None)
        session.flush()
        session.refresh(federation, attribute_names=["members"])
    return federation


def _updated(federation: models.Federation, reason: str | None) -> None:
    federation.status = rules.UPDATE_COMPLETE
    federation.status_reason = reason
    federation.updated_at = utcnow()


def delete(svc: Services, ctx: RequestContext, ident: str) -> None:
    with svc.transaction() as session:
        federation = _load(session, svc, ctx, ident, "delete")
        svc.authz.authorize(ctx, "federation:delete", target_of(federation))
        repository.destroy_federation(session, federation.uuid)


def cluster_deleting(session: Session, cluster: models.Cluster, ident: str) -> None:
    """Inside a cluster's delete request: refuse (409) while it hosts a federation; otherwise
    it leaves every federation it is a member of, now.

    NOTE: now, in the delete request's transaction, rather than when the conductor removes the
    row. A delete is never undone (``desired_state`` stays ``absent``; a failed delete is
    retried by deleting again) and a cluster being deleted may not join a federation, so the
    membership has no future to lose; doing it here keeps federations out of the conductor
    and makes the change visible when the user's 204 arrives. The rows also go with the
    cluster's row (``repository.destroy_cluster``, and ON DELETE CASCADE) as a backstop.
    """
    repository.lock_cluster(session, cluster.uuid)
    hosted = repository.federations_hosted_by(session, cluster.uuid)
    if hosted:
        which = ", ".join(f"{f.name} ({f.uuid})" for f in hosted)
        raise Conflict(f"Cluster {ident} is the host cluster of federation {which}; delete "
                       "the federation before the cluster.")
    for federation in repository.federations_with_member(session, cluster.uuid):
        repository.remove_member(session, federation.uuid, cluster.uuid)
        _updated(federation, f"Cluster {cluster.uuid} left the federation: it is being "
                             "deleted.")
