"""``/v1/bays``: the legacy name of clusters (Magnum <= 16), served from the same table.

Every handler calls the cluster service with the ``bay:*`` policy rules; bodies, patch paths,
views and error messages are translated by ``legacy``. A bay created here is a cluster at
``/v1/clusters`` and vice versa. Versioned behaviour, as upstream: at 1.1 create answers 201
with the full bay and update 200 with the full bay; from 1.2 both answer 202 ``{"uuid"}``;
from 1.3 update takes ``?rollback=``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from magna.api import deps, openapi, pagination, params
from magna.api.microversion import Version
from magna.api.openapi import ODD
from magna.api.resources import clusters as cluster_views
from magna.api.resources import legacy
from magna.api.validation import (
    ECHOED_CLUSTER_FIELDS,
    EchoedClusterFields,
    Flag,
    LabelValue,
    Str255,
    json_body,
    parse,
)
from magna.domain import clusters as lifecycle
from magna.domain import names
from magna.services import clusters as service
from magna.services import clustertemplates
from magna.services.readmodels import ClusterRecord, ClusterSummary

router = APIRouter()

BayName = Annotated[str, StringConstraints(min_length=1, max_length=242,
                                           pattern=r"^[a-zA-Z][a-zA-Z0-9_.-]*$")]
# Bays always showed stack_id; the cluster views show it below 1.13.
BAY_SHAPE = Version(1, 1)
# Bays predate node_count 0 and always reported a missing baymodel as a bad request.
FLAGS = service.ApiFlags(zero_nodes_allowed=False, missing_template_is_invalid=True)
SUMMARY = ("uuid", "name", "baymodel_id", "node_count", "master_count", "docker_volume_size",
           "labels", "master_flavor_id", "flavor_id", "bay_create_timeout", "links", "stack_id",
           "status")
READ_ONLY = (*ECHOED_CLUSTER_FIELDS, "bay_faults")


class BayCreate(EchoedClusterFields):
    name: BayName | None = None
    baymodel_id: Str255 | int
    node_count: Annotated[int, Field(ge=1)] = 1
    master_count: Annotated[int, Field(ge=1, json_schema_extra=ODD)] = 1
    docker_volume_size: Annotated[int, Field(ge=1)] | None = None
    labels: dict[str, LabelValue] | None = None
    master_flavor_id: Str255 | None = None
    flavor_id: Str255 | None = None
    bay_create_timeout: Annotated[int, Field(ge=0)] = 60
    discovery_url: Str255 | None = None
    fixed_network: Str255 | None = None
    fixed_subnet: Str255 | None = None
    floating_ip_enabled: Flag | None = None
    master_lb_enabled: Flag | None = None
    bay_faults: Any = None


def bay_values(data: Any) -> dict[str, Any]:
    """A create body under cluster names; an unnamed bay gets a ``…-bay`` name, as upstream."""
    values = parse(BayCreate, data, "bay")
    for name in READ_ONLY:
        values.pop(name, None)
    values.setdefault("name", names.generate("bay"))
    return legacy.to_cluster(values)


def summary(request: Request, row: ClusterSummary) -> dict[str, Any]:
    body = legacy.to_bay(cluster_views.list_item(deps.base_url(request), row,
                                                 cluster_views.stack_key(BAY_SHAPE)))
    body["links"] = deps.links(request, "bays", row.uuid)
    return {key: body.get(key) for key in SUMMARY}


def view(request: Request, row: ClusterRecord, template_labels: dict[str, str]
         ) -> dict[str, Any]:
    body = legacy.to_bay(cluster_views.view(request, row, BAY_SHAPE, template_labels))
    body["links"] = deps.links(request, "bays", row.uuid)
    if row.status in lifecycle.FAILED:
        body["bay_faults"] = service.faults(row)
    return body


def _labels(request: Request, rows: Sequence[ClusterRecord]) -> dict[str, dict[str, str]]:
    return clustertemplates.labels_of(deps.services(request),
                                      {row.cluster_template_id for row in rows})


def full(request: Request, row: ClusterRecord) -> dict[str, Any]:
    return view(request, row, _labels(request, [row]).get(row.cluster_template_id, {}))


@router.get("/v1/bays", openapi_extra=cluster_views.PAGING)
@router.get("/v1/bays/detail", openapi_extra=cluster_views.PAGING)
def list_bays(request: Request) -> dict[str, Any]:
    page = pagination.page_from(request)
    detail = request.url.path.endswith("/detail")
    svc, ctx = deps.services(request), deps.context(request)
    rows: Sequence[ClusterRecord | ClusterSummary]
    if detail:
        full_rows = service.list_(svc, ctx, page, rule="bay:detail")
        labels = _labels(request, full_rows)
        items = [view(request, row, labels.get(row.cluster_template_id, {}))
                 for row in full_rows]
        rows = full_rows
    else:
        summaries = service.list_summaries(svc, ctx, page, rule="bay:get_all")
        items = [summary(request, row) for row in summaries]
        rows = summaries
    path = "/v1/bays/detail" if detail else "/v1/bays"
    return pagination.collection(request, "bays", items, page, path,
                                 rows[-1].uuid if rows else None)


@router.get("/v1/bays/{ident}")
def show_bay(request: Request, ident: str) -> dict[str, Any]:
    with legacy.legacy_nouns():
        row = service.get(deps.services(request), deps.context(request), ident, rule="bay:get")
    return full(request, row)


@router.post("/v1/bays", status_code=202, openapi_extra=openapi.spec(body=BayCreate),
             responses={201: {"description": "Created (microversion 1.1: the whole bay)."}})
async def create_bay(request: Request, response: Response) -> dict[str, Any]:
    values = bay_values(await json_body(request))
    with legacy.legacy_nouns():
        row = await deps.call(request, service.create, values, FLAGS, rule="bay:create")
    if deps.version(request) >= Version(1, 2):
        return {"uuid": row.uuid}
    response.status_code = 201
    response.headers["Location"] = deps.links(request, "bays", row.uuid)[0]["href"]
    # NOTE: the created row comes back without its nodegroups loaded; read it again, under the
    # rule that just allowed the create (upstream's 1.1 answer needed no bay:get either).
    created = await deps.call(request, service.get, row.uuid, rule="bay:create")
    return await run_in_threadpool(full, request, created)


# NOTE: a bay's patch may also name a cluster attribute by its bay name (bay_faults has no
# cluster attribute to become).
BAY_NAMES = [bay for bay, cluster in legacy.BAY_TO_CLUSTER.items()
             if cluster in service.DOCUMENT_FIELDS]


@router.patch("/v1/bays/{ident}", status_code=202,
              openapi_extra=openapi.spec(body=openapi.json_patch(
                  attributes=[*service.DOCUMENT_FIELDS, *BAY_NAMES],
                  internal=service.INTERNAL, mandatory=service.MANDATORY,
                  mappings=service.MAPPINGS),
                  query=[openapi.flag("rollback")]),
              responses={200: {"description": "Updated (microversion 1.1: the whole bay)."}})
async def update_bay(request: Request, response: Response, ident: str) -> dict[str, Any]:
    version = deps.version(request)
    if version >= Version(1, 3):
        # NOTE: accepted and checked like upstream; there is no stack to roll back, so the
        # conductor's ordinary failure handling applies either way (as for clusters).
        params.boolean(request.query_params.get("rollback"), "rollback")
    ops = legacy.bay_patch(await json_body(request))
    with legacy.legacy_nouns():
        row = await deps.call(request, service.update, ident, ops, FLAGS, rule="bay:update")
    if version >= Version(1, 2):
        return {"uuid": row.uuid}
    response.status_code = 200
    return await run_in_threadpool(full, request, row)


@router.delete("/v1/bays/{ident}", status_code=204)
def delete_bay(request: Request, ident: str) -> Response:
    with legacy.legacy_nouns():
        service.delete(deps.services(request), deps.context(request), ident, rule="bay:delete")
    return Response(status_code=204)
