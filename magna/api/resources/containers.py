"""``/v1/containers`` (Magna's extension): containers on swarm-mode clusters.

Create, actions and delete answer 202/204 once the intent is stored; the conductor carries it
out and the status follows what the engine reports. ``exec`` and ``logs`` answer with the
engine's output within the request. See docs/containers.md for the payloads.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import AfterValidator, Field, StringConstraints

from magna.api import deps, openapi, pagination
from magna.api.validation import Body, Str255, json_body, parse
from magna.common.exceptions import Invalid
from magna.domain import containers as rules
from magna.services import containers as service
from magna.services.readmodels import ContainerRecord

router = APIRouter()

ContainerName = Annotated[str, StringConstraints(min_length=1, max_length=255,
                                                 pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
ImageRef = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^\S+$")]
EnvName = Annotated[str, StringConstraints(min_length=1, max_length=255,
                                           pattern=r"^[^=\s]+$")]
MAX_ARGS = 256


def _split(value: str | list[str]) -> list[str]:
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split the command: {exc}") from None
    if not value:
        raise ValueError("the command is empty")
    return value


Command = Annotated[str | Annotated[list[Annotated[str, StringConstraints(max_length=4096)]],
                                    Field(max_length=MAX_ARGS)],
                    AfterValidator(_split)]


# What the document says of actions; the handler refuses others with its own 400.
ActionName = Annotated[str, Path(json_schema_extra={"enum": list(rules.ACTIONS)})]


class ContainerCreate(Body):
    name: ContainerName | None = None
    image: ImageRef
    cluster: Str255
    command: Command | None = None
    environment: dict[EnvName, Annotated[str, StringConstraints(max_length=4096)]] | None = None
    memory: Annotated[int, Field(ge=6, le=1048576, strict=True)] | None = None


class ExecRequest(Body):
    command: Command


def view(request: Request, row: ContainerRecord) -> dict[str, Any]:
    return {
        "uuid": row.uuid, "name": row.name, "cluster_uuid": row.cluster_uuid,
        "project_id": row.project_id, "user_id": row.user_id, "image": row.image,
        "command": list(row.command or []), "environment": dict(row.environment or {}),
        "memory": row.memory, "desired_state": row.desired_state, "status": row.status,
        "status_reason": row.status_reason, "exit_code": row.exit_code,
        "container_id": row.container_id, "host": row.host,
        "created_at": deps.iso(row.created_at), "updated_at": deps.iso(row.updated_at),
        "links": deps.links(request, "containers", row.uuid),
    }


@router.get("/v1/containers", openapi_extra=openapi.spec(
    query=[*openapi.paging("containers"), openapi.param("cluster", {"type": "string"})]))
def list_containers(request: Request) -> dict[str, Any]:
    page = pagination.page_from(request)
    cluster = request.query_params.get("cluster") or None
    rows = service.list_(deps.services(request), deps.context(request), page, cluster)
    extra = {"cluster": cluster} if cluster else None
    return pagination.collection(request, "containers", [view(request, r) for r in rows], page,
                                 "/v1/containers", rows[-1].uuid if rows else None, extra)


@router.get("/v1/containers/{ident}")
def show_container(request: Request, ident: str) -> dict[str, Any]:
    return view(request, service.get(deps.services(request), deps.context(request), ident))


@router.post("/v1/containers", status_code=202,
             openapi_extra=openapi.spec(body=ContainerCreate))
async def create_container(request: Request) -> dict[str, Any]:
    values = parse(ContainerCreate, await json_body(request), "container")
    row = await deps.call(request, service.create, values)
    return view(request, row)


@router.delete("/v1/containers/{ident}", status_code=204)
def delete_container(request: Request, ident: str) -> Response:
    service.delete(deps.services(request), deps.context(request), ident)
    return Response(status_code=204)


@router.post("/v1/containers/{ident}/exec", openapi_extra=openapi.spec(body=ExecRequest))
async def exec_container(request: Request, ident: str) -> dict[str, Any]:
    data = parse(ExecRequest, await json_body(request), "exec")
    result = await deps.call_engines(request, service.exec_, ident, data["command"])
    return {"output": result.output, "exit_code": result.exit_code}


@router.get("/v1/containers/{ident}/logs", openapi_extra=openapi.spec(query=[
    openapi.param("tail", {"type": "string", "pattern": r"^(\d+|all)$"})]))
async def container_logs(request: Request, ident: str) -> dict[str, Any]:
    raw = request.query_params.get("tail")
    tail = None
    if raw and raw != "all":
        if not raw.isdigit():
            raise Invalid(f"Invalid input for field/attribute tail. Value: '{raw}'. Value "
                          "should be a non-negative integer or 'all'.")
        tail = int(raw)
    text = await deps.call_engines(request, service.logs, ident, tail)
    return {"logs": text}


@router.post("/v1/containers/{ident}/{action}", status_code=202,
             openapi_extra=openapi.spec(body={"type": "object", "maxProperties": 0},
                                        body_required=False))
async def container_action(request: Request, ident: str, action: ActionName) -> dict[str, Any]:
    if action not in rules.ACTIONS:
        raise Invalid(f"Unknown container action {action}; known: "
                      f"{', '.join((*rules.ACTIONS, 'exec'))}.")
    if await request.body():
        parse(Body, await json_body(request), action)
    row = await deps.call(request, service.act, ident, action)
    return view(request, row)
