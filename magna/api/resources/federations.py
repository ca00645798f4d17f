"""``/v1/federations``: schemas, views and handlers (Magnum's contract, stored for real).

POST and PATCH answer 202 ``{"uuid"}`` as upstream, but the federation is already complete when
they answer: Magna records membership and builds nothing (``services/federations.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Field, WithJsonSchema

from magna.api import deps, openapi, pagination, params
from magna.api.resources.clusters import ClusterName
from magna.api.validation import Body, Str255, json_body, parse
from magna.domain import federations as rules
from magna.services import federations as service
from magna.services.readmodels import FederationRecord

router = APIRouter()


# What ``domain.federations.check_properties`` takes; the DNS syntax of the zone is its own.
PROPERTIES = {"type": "object", "required": [rules.DNS_ZONE],
              "propertyNames": {"minLength": 1, "maxLength": rules.MAX_PROPERTY},
              "additionalProperties": {"type": "string", "maxLength": rules.MAX_PROPERTY},
              "properties": {rules.DNS_ZONE: {"type": "string", "minLength": 1,
                                              "maxLength": rules.MAX_ZONE + 1}}}


class FederationCreate(Body):
    name: ClusterName | None = None
    hostcluster_id: Str255
    member_ids: list[Str255] = Field(default_factory=list)
    properties: Annotated[dict[str, str], WithJsonSchema(PROPERTIES)]


def summary(base: str, row: FederationRecord) -> dict[str, Any]:
    return {"uuid": row.uuid, "name": row.name, "hostcluster_id": row.hostcluster_id,
            "member_ids": row.member_ids, "status": row.status, "properties": row.properties,
            "links": deps.links_at(base, "federations", row.uuid)}


def view(base: str, row: FederationRecord) -> dict[str, Any]:
    body = summary(base, row)
    body.update(status_reason=row.status_reason, created_at=deps.iso(row.created_at),
                updated_at=deps.iso(row.updated_at))
    return body


PAGING = openapi.spec(query=openapi.paging("federations"))


@router.get("/v1/federations", openapi_extra=PAGING)
@router.get("/v1/federations/detail", openapi_extra=PAGING)
def list_federations(request: Request) -> dict[str, object]:
    page = pagination.page_from(request)
    detail = request.url.path.endswith("/detail")
    rows = service.list_(deps.services(request), deps.context(request), page, detail=detail)
    base = deps.base_url(request)
    items = [(view if detail else summary)(base, row) for row in rows]
    path = "/v1/federations/detail" if detail else "/v1/federations"
    return pagination.collection(request, "federations", items, page, path,
                                 rows[-1].uuid if rows else None)


@router.get("/v1/federations/{ident}")
def show_federation(request: Request, ident: str) -> dict[str, Any]:
    row = service.get(deps.services(request), deps.context(request), ident)
    return view(deps.base_url(request), row)


@router.post("/v1/federations", status_code=202,
             openapi_extra=openapi.spec(body=FederationCreate))
async def create_federation(request: Request) -> dict[str, Any]:
    values = parse(FederationCreate, await json_body(request), "federation")
    row = await deps.call(request, service.create, values)
    return {"uuid": row.uuid}


@router.patch("/v1/federations/{ident}", status_code=202,
              openapi_extra=openapi.spec(body=openapi.json_patch(
                  attributes=service.DOCUMENT_FIELDS, internal=service.INTERNAL,
                  mandatory=service.MANDATORY), query=[openapi.flag("rollback")]))
async def update_federation(request: Request, ident: str) -> dict[str, Any]:
    # NOTE: ``rollback`` is checked like a cluster's and needs nothing more: a federation
    # PATCH is one transaction, recorded whole or refused with nothing changed.
    params.boolean(request.query_params.get("rollback"), "rollback")
    ops = await json_body(request)
    row = await deps.call(request, service.update, ident, ops)
    return {"uuid": row.uuid}


@router.delete("/v1/federations/{ident}", status_code=204)
def delete_federation(request: Request, ident: str) -> Response:
    service.delete(deps.services(request), deps.context(request), ident)
    return Response(status_code=204)
