"""``GET /v1/stats``: cluster and node counts for one project or, for admins, all of them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from magna.api import deps, openapi
from magna.services import stats as service

router = APIRouter()


@router.get("/v1/stats", openapi_extra=openapi.spec(query=[
    openapi.param("project_id", {"type": "string"}),
    openapi.param("type", {"type": "string", "enum": list(service.ALLOWED_TYPES)})]))
def show_stats(request: Request) -> dict[str, Any]:
    query = request.query_params
    stats = service.cluster_stats(deps.services(request), deps.context(request),
                                  query.get("project_id") or None,
                                  query.get("type", "cluster"))
    return {"clusters": stats.clusters, "nodes": stats.nodes}
