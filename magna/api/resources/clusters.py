"""``/v1/clusters`` and its actions (resize 1.7+, upgrade 1.8+): schemas, views, handlers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Field, StringConstraints

from magna.api import deps, encoding, openapi, pagination
from magna.api.microversion import Version
from magna.api.microversion import require as require_version
from magna.api.openapi import ODD
from magna.api.validation import (
    ECHOED_CLUSTER_FIELDS,
    Body,
    EchoedClusterFields,
    Flag,
    LabelValue,
    Str255,
    json_body,
    parse,
)
from magna.common.exceptions import Invalid
from magna.domain import clusters as lifecycle
from magna.domain import labels as label_rules
from magna.services import clusters as service
from magna.services.readmodels import ClusterRecord, ClusterSummary

router = APIRouter()

ClusterName = Annotated[str, StringConstraints(min_length=1, max_length=242,
                                               pattern=r"^[a-zA-Z][a-zA-Z0-9_.-]*$")]
READ_ONLY = (*ECHOED_CLUSTER_FIELDS, "project_id", "user_id", "cluster_id", "health_status",
             "health_status_reason", "faults", "labels_overridden", "labels_added",
             "labels_skipped")


class ClusterCreate(EchoedClusterFields):
    name: ClusterName | None = None
    cluster_template_id: Str255 | int
    keypair: Str255 | None = None
    node_count: Annotated[int, Field(ge=0)] = 1
    master_count: Annotated[int, Field(ge=1, json_schema_extra=ODD)] = 1
    docker_volume_size: Annotated[int, Field(ge=1)] | None = None
    labels: dict[str, LabelValue] | None = None
    merge_labels: Flag = False
    master_flavor_id: Str255 | None = None
    flavor_id: Str255 | None = None
    create_timeout: Annotated[int, Field(ge=0)] = 60
    discovery_url: Str255 | None = None
    fixed_network: Str255 | None = None
    fixed_subnet: Str255 | None = None
    floating_ip_enabled: Flag | None = None
    master_lb_enabled: Flag | None = None
    project_id: Any = None
    user_id: Any = None
    cluster_id: Any = None
    health_status: Any = None
    health_status_reason: Any = None
    faults: Any = None
    labels_overridden: Any = None
    labels_added: Any = None
    labels_skipped: Any = None


class ResizeRequest(Body):
    node_count: Annotated[int, Field(ge=0)]
    nodes_to_remove: list[Str255] = Field(default_factory=list)
    nodegroup: Str255 | None = None


class UpgradeRequest(Body):
    cluster_template: Str255
    max_batch_size: Annotated[int, Field(ge=1)] = 1
    nodegroup: Str255 | None = None


def flags_for(version: Version) -> service.ApiFlags:
    return service.ApiFlags(zero_nodes_allowed=version >= Version(1, 10),
                            missing_template_is_invalid=version < Version(1, 10))


def cluster_values(data: Any, argument: str = "cluster") -> dict[str, Any]:
    values = parse(ClusterCreate, data, argument)
    for name in READ_ONLY:
        values.pop(name, None)
    return values


def stack_key(version: Version) -> str:
    """Microversion 1.13 renamed the summary's ``stack_id`` to ``cluster_id``."""
    return "cluster_id" if version >= Version(1, 13) else "stack_id"


def _summary_of(base: str, row: ClusterSummary, stack: str) -> dict[str, Any]:
    """The summary body (health_status is not part of it).

    NOTE: read by name from a NamedTuple, which is cheap; reading a dozen attributes of a
    SQLAlchemy ``Row`` per cluster was a sixth of a list's CPU (services/readmodels.py).
    """
    return {"uuid": row.uuid, "name": row.name, "cluster_template_id": row.cluster_template_id,
            "keypair": row.keypair, "node_count": row.worker_total,
            "master_count": row.master_total, "docker_volume_size": row.docker_volume_size,
            "labels": row.labels, "master_flavor_id": row.master_flavor_id,
            "flavor_id": row.flavor_id, "create_timeout": row.create_timeout,
            "links": deps.links_at(base, "clusters", row.uuid), stack: row.stack_id,
            "status": row.status}


def summary(request: Request, row: ClusterRecord, version: Version) -> dict[str, Any]:
    return _summary_of(deps.base_url(request), service.summary_of(row), stack_key(version))


def list_item(base: str, row: ClusterSummary, stack: str) -> dict[str, Any]:
    """One entry of a cluster list."""
    body = _summary_of(base, row, stack)
    body["health_status"] = row.health_status
    body["merge_labels"] = False
    return body


def view(request: Request, row: ClusterRecord, version: Version,
         template_labels: dict[str, str]) -> dict[str, Any]:
    body = summary(request, row, version)
    nodes = [a for ng in row.nodegroups if ng.role != "master" for a in ng.node_addresses]
    masters = [a for ng in row.nodegroups if ng.role == "master" for a in ng.node_addresses]
    overridden, added, skipped = label_rules.compare(row.labels, template_labels)
    body.update({
        "status_reason": row.status_reason, "health_status": row.health_status,
        "health_status_reason": service.health_reason(row),
        "discovery_url": row.discovery_url, "api_address": row.api_address,
        "coe_version": row.coe_version, "container_version": row.container_version,
        "project_id": row.project_id, "user_id": row.user_id, "node_addresses": nodes,
        "master_addresses": masters, "fixed_network": row.fixed_network,
        "fixed_subnet": row.fixed_subnet, "floating_ip_enabled": row.floating_ip_enabled,
        "merge_labels": False, "labels_overridden": overridden, "labels_added": added,
        "labels_skipped": skipped, "master_lb_enabled": row.master_lb_enabled,
        "created_at": deps.iso(row.created_at), "updated_at": deps.iso(row.updated_at),
    })
    return body


def _template_labels(request: Request, rows: Sequence[ClusterRecord]
                     ) -> dict[str, dict[str, str]]:
    from magna.services import clustertemplates

    found = clustertemplates.labels_of(deps.services(request),
                                       {row.cluster_template_id for row in rows})
    return found


PAGING = openapi.spec(query=openapi.paging("clusters"))


@router.get("/v1/clusters", openapi_extra=PAGING)
@router.get("/v1/clusters/detail", openapi_extra=PAGING)
def list_clusters(request: Request) -> Response:
    page = pagination.page_from(request)
    detail = request.url.path.endswith("/detail")
    version = deps.version(request)
    svc, ctx = deps.services(request), deps.context(request)
    rows: Sequence[ClusterRecord | ClusterSummary]
    if detail:
        full = service.list_(svc, ctx, page)
        labels = _template_labels(request, full)
        items = [view(request, row, version, labels.get(row.cluster_template_id, {}))
                 for row in full]
        rows = full
    else:
        summaries = service.list_summaries(svc, ctx, page)
        base, stack = deps.base_url(request), stack_key(version)
        items = [list_item(base, row, stack) for row in summaries]
        rows = summaries
    path = "/v1/clusters/detail" if detail else "/v1/clusters"
    return encoding.json_response(pagination.collection(request, "clusters", items, page, path,
                                                        rows[-1].uuid if rows else None))


@router.get("/v1/clusters/{ident}")
def show_cluster(request: Request, ident: str) -> Response:
    row, labels = service.get_with_template_labels(deps.services(request),
                                                   deps.context(request), ident)
    body = view(request, row, deps.version(request), labels)
    if row.status in lifecycle.FAILED:
        body["faults"] = service.faults(row)
    return encoding.json_response(body)


@router.post("/v1/clusters", status_code=202, openapi_extra=openapi.spec(body=ClusterCreate))
async def create_cluster(request: Request) -> dict[str, Any]:
    values = cluster_values(await json_body(request))
    row = await deps.call(request, service.create, values, flags_for(deps.version(request)))
    return {"uuid": row.uuid}


@router.patch("/v1/clusters/{ident}", status_code=202,
              openapi_extra=openapi.spec(body=openapi.json_patch(
                  attributes=service.DOCUMENT_FIELDS, internal=service.INTERNAL,
                  mandatory=service.MANDATORY, mappings=service.MAPPINGS)))
async def update_cluster(request: Request, ident: str) -> dict[str, Any]:
    ops = await json_body(request)
    row = await deps.call(request, service.update, ident, ops,
                          flags_for(deps.version(request)))
    return {"uuid": row.uuid}


@router.delete("/v1/clusters/{ident}", status_code=204)
def delete_cluster(request: Request, ident: str) -> Response:
    service.delete(deps.services(request), deps.context(request), ident)
    return Response(status_code=204)


@router.post("/v1/clusters/{ident}/actions/resize", status_code=202,
             openapi_extra=openapi.spec(body=ResizeRequest, since=Version(1, 7)))
async def resize_cluster(request: Request, ident: str) -> dict[str, Any]:
    version = deps.version(request)
    require_version(version, Version(1, 7))
    data = parse(ResizeRequest, await json_body(request), "cluster_resize_req")
    row = await deps.call(request, service.resize, ident, data, flags_for(version))
    return {"uuid": row.uuid}


@router.post("/v1/clusters/{ident}/actions/upgrade", status_code=202,
             openapi_extra=openapi.spec(body=UpgradeRequest, since=Version(1, 8)))
async def upgrade_cluster(request: Request, ident: str) -> dict[str, Any]:
    version = deps.version(request)
    require_version(version, Version(1, 7))
    if version < Version(1, 8):
        raise Invalid("Cluster upgrade is not supported in the provided microversion.")
    data = parse(UpgradeRequest, await json_body(request), "cluster_upgrade_req")
    row = await deps.call(request, service.upgrade, ident, data, flags_for(version))
    return {"uuid": row.uuid}


@router.get("/v1/clusters/{ident}/events",
            openapi_extra=openapi.spec(query=openapi.paging("clusters")[:1]))
def cluster_events(request: Request, ident: str) -> dict[str, Any]:
    """Magna's extension: what happened to a cluster, as the conductor recorded it."""
    limit = pagination.page_from(request).limit
    rows = service.events(deps.services(request), deps.context(request), ident, limit)
    return {"events": [{"id": e.id, "created_at": deps.iso(e.created_at), "level": e.level,
                        "reason": e.reason, "message": e.message,
                        "generation": e.generation, "source": e.source} for e in rows]}
