"""``GET /v1/mservices``: the conductors and whether each is up (admin only, no paging)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from magna.api import deps
from magna.services import mservices as service

router = APIRouter()


def view(item: service.ServiceState) -> dict[str, Any]:
    row = item.row
    return {"host": row.host, "binary": row.binary, "state": item.state, "id": row.id,
            "report_count": row.report_count, "disabled": row.disabled,
            "disabled_reason": row.disabled_reason, "created_at": deps.iso(row.created_at),
            "updated_at": deps.iso(row.updated_at)}


@router.get("/v1/mservices")
def list_services(request: Request) -> dict[str, Any]:
    items = service.list_(deps.services(request), deps.context(request))
    return {"mservices": [view(item) for item in items]}
