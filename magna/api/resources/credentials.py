"""``PATCH /v1/credentials/{cluster_ident}`` (1.12+): rotate a cluster's cloud credential."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from magna.api import deps, openapi
from magna.api.microversion import Version
from magna.api.microversion import require as require_version
from magna.services import credentials as service

router = APIRouter()


@router.patch("/v1/credentials/{cluster_ident}", status_code=202,
              openapi_extra=openapi.spec(since=Version(1, 12)))
async def rotate_credential(request: Request, cluster_ident: str) -> dict[str, Any]:
    require_version(deps.version(request), Version(1, 12))
    cluster = await deps.call(request, service.rotate, cluster_ident)
    return {"uuid": cluster.uuid}
