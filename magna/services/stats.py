"""Statistics: how many clusters a project (or, for an admin, the whole cloud) has, and nodes.

Counted in SQL at request time from the clusters and their nodegroups (masters included), so
the numbers are exactly what the database holds, including clusters still being deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from magna.common.context import RequestContext
from magna.common.exceptions import Invalid, NotAuthorized
from magna.db import repository
from magna.services import Services

ALLOWED_TYPES = ("cluster",)


@dataclass(frozen=True)
class Stats:
    clusters: int
    nodes: int


def cluster_stats(svc: Services, ctx: RequestContext, project_id: str | None,
                  kind: str = "cluster") -> Stats:
    """Non-admins see their own project only; an admin without ``project_id`` sees all."""
    svc.authz.authorize(ctx, "stats:get_all")
    if kind.lower() not in ALLOWED_TYPES:
        raise Invalid(f"Invalid stats type. Allowed values are '{','.join(ALLOWED_TYPES)}'")
    if not ctx.is_admin:
        project_id = project_id or ctx.project_id
        # NOTE: a caller without a project must not fall through to "all projects".
        if project_id is None or project_id != ctx.project_id:
            raise NotAuthorized("Not authorized.")
    with svc.reading() as session:
        clusters, nodes = repository.cluster_stats(session, project_id or None)
    return Stats(clusters=clusters, nodes=nodes)


def clusters_by_status_health(svc: Services) -> dict[tuple[str, str | None], int]:
    """Every project's clusters by (status, health status): for the metrics listener, which
    the operator alone reaches (no caller context, no policy)."""
    with svc.reading() as session:
        return repository.clusters_by_status_health(session)
