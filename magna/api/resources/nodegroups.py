"""``/v1/clusters/{cluster_ident}/nodegroups`` (1.9+): schemas, views and handlers.

The list shows Magnum's summary fields; show, create and update answer with the full nodegroup,
whose ``labels_*`` fields compare its labels with its cluster's. Nodegroups keep ``stack_id`` at
every microversion (the 1.13 rename to ``cluster_id`` applies to clusters only).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Field

from magna.api import deps, openapi, pagination
from magna.api.microversion import Version
from magna.api.microversion import require as require_version
from magna.api.validation import Body, Flag, LabelValue, Str255, json_body, parse
from magna.domain import labels as label_rules
from magna.services import nodegroups as service
from magna.services.readmodels import ClusterRecord, NodeGroupRecord

router = APIRouter()

MINIMUM = Version(1, 9)
Count = Annotated[int, Field(ge=0)]
SUMMARY = ("uuid", "name", "flavor_id", "image_id", "node_count", "role", "min_node_count",
           "max_node_count", "is_default", "stack_id", "status")
READ_ONLY = ("id", "uuid", "cluster_id", "project_id", "links", "node_addresses", "is_default",
             "stack_id", "status", "status_reason", "version", "labels_overridden",
             "labels_added", "labels_skipped", "created_at", "updated_at")


class NodeGroupCreate(Body):
    name: Str255
    node_count: Count = 1
    min_node_count: Count = 0
    max_node_count: Count | None = None
    role: Str255 = "worker"
    flavor_id: Str255 | None = None
    image_id: Str255 | None = None
    docker_volume_size: Annotated[int, Field(ge=1)] | None = None
    labels: dict[str, LabelValue] | None = None
    merge_labels: Flag = False
    node_labels: dict[str, Any] | None = None
    node_taints: list[Any] | None = None
    # Read-only attributes clients may echo back are accepted and ignored, as upstream.
    id: Any = None
    uuid: Any = None
    cluster_id: Any = None
    project_id: Any = None
    links: Any = None
    node_addresses: Any = None
    is_default: Any = None
    stack_id: Any = None
    status: Any = None
    status_reason: Any = None
    version: Any = None
    labels_overridden: Any = None
    labels_added: Any = None
    labels_skipped: Any = None
    created_at: Any = None
    updated_at: Any = None


def nodegroup_values(data: Any) -> dict[str, Any]:
    values = parse(NodeGroupCreate, data, "nodegroup")
    for name in READ_ONLY:
        values.pop(name, None)
    return values


def links(request: Request, row: NodeGroupRecord) -> list[dict[str, Any]]:
    return deps.links(request, f"clusters/{row.cluster_id}/nodegroups", row.uuid)


def summary(row: NodeGroupRecord) -> dict[str, Any]:
    return {**{name: getattr(row, name) for name in SUMMARY}, "merge_labels": False}


def view(request: Request, cluster: ClusterRecord, row: NodeGroupRecord) -> dict[str, Any]:
    overridden, added, skipped = label_rules.compare(row.labels, cluster.labels)
    return {
        "id": row.id, "uuid": row.uuid, "name": row.name, "cluster_id": row.cluster_id,
        "project_id": row.project_id, "docker_volume_size": row.docker_volume_size,
        "labels": row.labels, "links": links(request, row), "flavor_id": row.flavor_id,
        "image_id": row.image_id, "node_addresses": row.node_addresses,
        "node_count": row.node_count, "role": row.role, "min_node_count": row.min_node_count,
        "max_node_count": row.max_node_count, "is_default": row.is_default,
        "stack_id": row.stack_id, "status": row.status, "status_reason": row.status_reason,
        "version": row.version, "merge_labels": False, "labels_overridden": overridden,
        "labels_added": added, "labels_skipped": skipped, "node_labels": row.node_labels,
        "node_taints": row.node_taints, "created_at": deps.iso(row.created_at),
        "updated_at": deps.iso(row.updated_at),
    }


@router.get("/v1/clusters/{cluster_ident}/nodegroups", openapi_extra=openapi.spec(
    query=[*openapi.paging("nodegroups"), openapi.param("role", {"type": "string"})],
    since=MINIMUM))
def list_nodegroups(request: Request, cluster_ident: str) -> dict[str, Any]:
    require_version(deps.version(request), MINIMUM)
    page = pagination.page_from(request)
    role = request.query_params.get("role") or None
    cluster, rows = service.list_(deps.services(request), deps.context(request), cluster_ident,
                                  page, role=role)
    # NOTE: unlike upstream, ``next`` keeps the ``role`` filter so that following it stays on
    # the same filtered collection.
    return pagination.collection(request, "nodegroups", [summary(row) for row in rows], page,
                                 f"/v1/clusters/{cluster.uuid}/nodegroups",
                                 rows[-1].uuid if rows else None,
                                 extra={"role": role} if role else None)


@router.get("/v1/clusters/{cluster_ident}/nodegroups/{ident}",
            openapi_extra=openapi.spec(since=MINIMUM))
def show_nodegroup(request: Request, cluster_ident: str, ident: str) -> dict[str, Any]:
    require_version(deps.version(request), MINIMUM)
    cluster, row = service.get(deps.services(request), deps.context(request), cluster_ident,
                               ident)
    return view(request, cluster, row)


@router.post("/v1/clusters/{cluster_ident}/nodegroups", status_code=202,
             openapi_extra=openapi.spec(body=NodeGroupCreate, since=MINIMUM))
async def create_nodegroup(request: Request, cluster_ident: str) -> dict[str, Any]:
    require_version(deps.version(request), MINIMUM)
    values = nodegroup_values(await json_body(request))
    cluster, row = await deps.call(request, service.create, cluster_ident, values)
    return view(request, cluster, row)


@router.patch("/v1/clusters/{cluster_ident}/nodegroups/{ident}", status_code=202,
              openapi_extra=openapi.spec(body=openapi.json_patch(
                  attributes=sorted(path[1:] for path in service.PATCHABLE)), since=MINIMUM))
async def update_nodegroup(request: Request, cluster_ident: str, ident: str) -> dict[str, Any]:
    require_version(deps.version(request), MINIMUM)
    ops = await json_body(request)
    cluster, row = await deps.call(request, service.update, cluster_ident, ident, ops)
    return view(request, cluster, row)


@router.delete("/v1/clusters/{cluster_ident}/nodegroups/{ident}", status_code=204,
               openapi_extra=openapi.spec(since=MINIMUM))
def delete_nodegroup(request: Request, cluster_ident: str, ident: str) -> Response:
    require_version(deps.version(request), MINIMUM)
    service.delete(deps.services(request), deps.context(request), cluster_ident, ident)
    return Response(status_code=204)
