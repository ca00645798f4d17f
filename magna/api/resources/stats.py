"""``GET /v1/stats``: cluster and node counts for one project or, for admins, all of them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from magna.api import deps
from magna.services import stats as service

router = APIRouter()


@router.get("/v1/stats")
def show_stats(request: Request) -> dict[str, Any]:
    query = request.query_params
    stats = service.cluster_stats(deps.services(request), deps.context(request),
                                  query.get("project_id") or None,
                                  query.get("type", "cluster"))
    return {"clusters": stats.clusters, "nodes": stats.nodes}
