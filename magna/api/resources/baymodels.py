"""``/v1/baymodels``: the legacy name of cluster templates (Magnum <= 16), same table.

Baymodels have exactly the cluster-template attributes; only the collection key, the links and
the policy rules (``baymodel:*``) differ, and error messages use the legacy nouns. A baymodel
created here is a cluster template at ``/v1/clustertemplates`` and vice versa.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from magna.api import deps, openapi, pagination
from magna.api.resources import clustertemplates as template_views
from magna.api.resources import legacy
from magna.api.validation import json_body
from magna.services import clustertemplates as service
from magna.services.readmodels import TemplateRow

router = APIRouter()

COLLECTION = "baymodels"


def view(request: Request, row: TemplateRow) -> dict[str, Any]:
    return template_views.view(request, row, COLLECTION)


@router.get("/v1/baymodels", openapi_extra=template_views.PAGING)
@router.get("/v1/baymodels/detail", openapi_extra=template_views.PAGING)
def list_baymodels(request: Request) -> dict[str, Any]:
    page = pagination.page_from(request)
    detail = request.url.path.endswith("/detail")
    rows = service.list_(deps.services(request), deps.context(request), page,
                         rule="baymodel:detail" if detail else "baymodel:get_all")
    path = "/v1/baymodels/detail" if detail else "/v1/baymodels"
    return pagination.collection(request, COLLECTION, [view(request, row) for row in rows],
                                 page, path, rows[-1].uuid if rows else None)


@router.get("/v1/baymodels/{ident}")
def show_baymodel(request: Request, ident: str) -> dict[str, Any]:
    with legacy.legacy_nouns():
        row = service.get(deps.services(request), deps.context(request), ident,
                          rule="baymodel:get")
    return view(request, row)


@router.post("/v1/baymodels", status_code=201,
             openapi_extra=openapi.spec(body=template_views.TemplateCreate))
async def create_baymodel(request: Request, response: Response) -> dict[str, Any]:
    values = template_views.template_values(await json_body(request), "baymodel")
    row = await deps.call(request, service.create, values, publish_rule="baymodel:publish",
                          create_rule="baymodel:create")
    response.headers["Location"] = deps.links(request, COLLECTION, row.uuid)[0]["href"]
    return view(request, row)


@router.patch("/v1/baymodels/{ident}",
              openapi_extra=openapi.spec(body=template_views.PATCH))
async def update_baymodel(request: Request, ident: str) -> dict[str, Any]:
    ops = await json_body(request)
    with legacy.legacy_nouns():
        row = await deps.call(request, service.update, ident, ops, template_views.retype,
                              rule="baymodel:update", publish_rule="baymodel:publish")
    return view(request, row)


@router.delete("/v1/baymodels/{ident}", status_code=204)
def delete_baymodel(request: Request, ident: str) -> Response:
    with legacy.legacy_nouns():
        service.delete(deps.services(request), deps.context(request), ident,
                       rule="baymodel:delete")
    return Response(status_code=204)
