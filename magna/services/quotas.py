"""Quotas: per-project limits (only on ``Cluster`` today), kept by administrators.

A row in ``quotas`` overrides ``[quotas] max_clusters_per_project`` for one project; cluster
create reads the same row (``magna.services.clusters._check_quota``), so a quota written here
takes effect on the next create. Reading one's own quota is open to project readers; every
write and the listing are for administrators (rules ``quota:*``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from magna.common.context import RequestContext
from magna.common.exceptions import Invalid, NotAuthorized, NotFound
from magna.db import models, repository
from magna.db.models import utcnow
from magna.db.repository import Scope
from magna.domain.paging import Page
from magna.services import Services
from magna.services.readmodels import QuotaRecord

RESOURCES = ("Cluster",)
DEFAULT_HARD_LIMIT = 1


@dataclass(frozen=True)
class DefaultQuota:
    """What a project without a quota row gets: no id, no timestamps, as upstream."""

    project_id: str
    resource: str
    hard_limit: int


def list_(svc: Services, ctx: RequestContext, page: Page, all_tenants: bool = False
          ) -> Sequence[QuotaRecord]:
    """The caller's project's quotas; every project's for an admin asking ``all_tenants``."""
    svc.authz.authorize(ctx, "quota:get_all")
    scope = Scope(project_id=ctx.project_id, all_projects=ctx.is_admin and all_tenants)
    with svc.transaction() as session:
        return repository.list_page(session, models.Quota, scope, page)


def get(svc: Services, ctx: RequestContext, project_id: str, resource: str
        ) -> QuotaRecord | DefaultQuota:
    svc.authz.authorize(ctx, "quota:get")
    if not ctx.is_admin and project_id != ctx.project_id:
        raise NotAuthorized("Not authorized.")
    with svc.transaction() as session:
        row = repository.get_quota(session, project_id, resource)
    if row is not None:
        return row
    # NOTE: upstream answers with its Quota type's default resource, whatever the path says.
    return DefaultQuota(project_id=project_id, resource=RESOURCES[0],
                        hard_limit=svc.conf.quotas.max_clusters_per_project)


def create(svc: Services, ctx: RequestContext, data: Mapping[str, Any]) -> QuotaRecord:
    # NOTE: upstream first checks that the project exists in Keystone (404 otherwise). With
    # auth_strategy=noauth there is no Keystone to ask; with keystone the check is not
    # implemented yet, so a quota may name a project Keystone does not know.
    svc.authz.authorize(ctx, "quota:create")
    project_id = data.get("project_id")
    if not project_id:
        raise Invalid("Must provide a valid project ID.")
    resource = data.get("resource", RESOURCES[0])
    row = models.Quota(project_id=project_id, resource=resource,
                       hard_limit=data.get("hard_limit", DEFAULT_HARD_LIMIT))
    with svc.transaction() as session:
        repository.add(session, row, f"Quota for project {project_id} already exists for "
                                     f"resource {resource}.")
    return row


def update(svc: Services, ctx: RequestContext, project_id: str, resource: str,
           data: Mapping[str, Any]) -> QuotaRecord:
    """Set the hard limit of an existing quota; the path names it, whatever the body says."""
    svc.authz.authorize(ctx, "quota:update")
    with svc.transaction() as session:
        row = _load(session, project_id, resource)
        # NOTE: the body is a whole Quota object whose hard_limit defaults to 1, as upstream.
        row.hard_limit = data.get("hard_limit", DEFAULT_HARD_LIMIT)
        row.updated_at = utcnow()
    return row


def delete(svc: Services, ctx: RequestContext, project_id: str, resource: str) -> None:
    svc.authz.authorize(ctx, "quota:delete")
    with svc.transaction() as session:
        session.delete(_load(session, project_id, resource))


def _load(session: Session, project_id: str, resource: str) -> models.Quota:
    row = repository.get_quota(session, project_id, resource)
    if row is None:
        raise NotFound(f"Quota could not be found: project_id {project_id} resource "
                       f"{resource}.")
    return row
