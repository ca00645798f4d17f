"""``/v1/quotas``: schemas, views and handlers.

Quotas are addressed by ``{project_id}/{resource}`` rather than by a UUID, they page by integer
``id``, and PATCH takes a plain Quota object (not JSON-patch) whose path wins over its body.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import Field

from magna.api import deps, openapi, pagination, params
from magna.api.validation import Body, Str255, json_body, parse
from magna.services import quotas as service
from magna.services.readmodels import QuotaRecord

router = APIRouter()

READ_ONLY = ("id", "created_at", "updated_at")


class QuotaBody(Body):
    project_id: Str255 | None = None
    resource: Literal["Cluster"] = "Cluster"
    # NOTE: a 32-bit column, as upstream's; beyond it the databases refuse the row (a 500).
    hard_limit: Annotated[int, Field(ge=0, le=2**31 - 1)] = service.DEFAULT_HARD_LIMIT
    # Read-only attributes clients may echo back; accepted and ignored, as upstream.
    id: Any = None
    created_at: Any = None
    updated_at: Any = None


def quota_values(data: Any) -> dict[str, Any]:
    values = parse(QuotaBody, data, "quota")
    for name in READ_ONLY:
        values.pop(name, None)
    return values


def view(row: QuotaRecord | service.DefaultQuota) -> dict[str, Any]:
    if isinstance(row, service.DefaultQuota):
        return {"hard_limit": row.hard_limit, "project_id": row.project_id,
                "resource": row.resource}
    return {"id": row.id, "hard_limit": row.hard_limit, "project_id": row.project_id,
            "resource": row.resource, "created_at": deps.iso(row.created_at),
            "updated_at": deps.iso(row.updated_at)}


@router.get("/v1/quotas", openapi_extra=openapi.spec(
    query=[*openapi.paging("quotas", integer_marker=True), openapi.flag("all_tenants")]))
def list_quotas(request: Request) -> dict[str, Any]:
    query = request.query_params
    params.integer(query.get("marker"), "marker")
    all_tenants = params.boolean(query.get("all_tenants"), "all_tenants")
    page = pagination.page_from(request)
    rows = service.list_(deps.services(request), deps.context(request), page, all_tenants)
    # NOTE: the next link keeps all_tenants (upstream dropped it, losing the filter on page 2).
    extra = {"all_tenants": "True"} if all_tenants else None
    return pagination.collection(request, "quotas", [view(row) for row in rows], page,
                                 "/v1/quotas", str(rows[-1].id) if rows else None, extra)


@router.get("/v1/quotas/{project_id}/{resource}")
def show_quota(request: Request, project_id: str, resource: str) -> dict[str, Any]:
    return view(service.get(deps.services(request), deps.context(request), project_id,
                            resource))


# A new quota names its project (the service answers 400 otherwise).
CREATE_SPEC = openapi.spec(body={"allOf": [openapi.ref(QuotaBody)], "required": ["project_id"],
                                 "properties": {"project_id": {"type": "string"}}})


@router.post("/v1/quotas", status_code=201, openapi_extra=CREATE_SPEC)
async def create_quota(request: Request) -> dict[str, Any]:
    values = quota_values(await json_body(request))
    return view(await deps.call(request, service.create, values))


@router.patch("/v1/quotas/{project_id}/{resource}", status_code=202,
              openapi_extra=openapi.spec(body=QuotaBody))
async def update_quota(request: Request, project_id: str, resource: str) -> dict[str, Any]:
    values = quota_values(await json_body(request))
    return view(await deps.call(request, service.update, project_id, resource, values))


@router.delete("/v1/quotas/{project_id}/{resource}", status_code=204)
def delete_quota(request: Request, project_id: str, resource: str) -> Response:
    service.delete(deps.services(request), deps.context(request), project_id, resource)
    return Response(status_code=204)
