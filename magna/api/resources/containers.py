"""``/v1/containers`` (Magna's extension): containers on swarm-mode clusters.

Create, actions and delete answer 202/204 once the intent is stored; the conductor carries it
out and the status follows what the engine reports. ``exec`` and ``logs`` answer with the
engine's output within the request. See docs/containers.md for the payloads.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from magna.api import deps, openapi, pagination
from magna.api.validation import Body, Str255, json_body, parse
from magna.common.exceptions import Invalid, MethodNotAllowed
from magna.domain import containers as rules
from magna.services import containers as service
from magna.services.readmodels import ContainerRecord

router = APIRouter()

ContainerName = Annotated[str, StringConstraints(min_length=1, max_length=255,
                                                 pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
# NOTE: printable ASCII spelled out, not ``\S``: what ``\s`` matches differs between the
# document's regex dialect (ECMA: not U+0085) and the validator's (Unicode), so a value the
# document called valid was refused. Image references and variable names are ASCII anyway.
ImageRef = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[!-~]+$")]
ENV_NAME = r"^[!-<>-~]+$"  # printable ASCII but "="
EnvName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=ENV_NAME)]
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


# What the document says: a string with something to run and no quoting (shlex may refuse
# unbalanced quotes), or a list of 1 to 256 arguments.
COMMAND_SCHEMA = {"anyOf": [
    {"type": "string", "pattern": r"^[^'\"\\]*[^'\"\\\s][^'\"\\]*$"},
    {"type": "array", "minItems": 1, "maxItems": MAX_ARGS,
     "items": {"type": "string", "maxLength": 4096}}]}
Command = Annotated[str | Annotated[list[Annotated[str, StringConstraints(max_length=4096)]],
                                    Field(max_length=MAX_ARGS)],
                    AfterValidator(_split), WithJsonSchema(COMMAND_SCHEMA)]


ENVIRONMENT = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 4096},
               "propertyNames": {"minLength": 1, "maxLength": 255, "pattern": ENV_NAME}}


class ContainerCreate(Body):
    name: ContainerName | None = None
    image: ImageRef
    cluster: Str255
    command: Command | None = None
    environment: Annotated[dict[EnvName, Annotated[str, StringConstraints(max_length=4096)]],
                           WithJsonSchema(ENVIRONMENT)] | None = None
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


async def _act(request: Request, ident: str, action: str) -> dict[str, Any]:
    if await request.body():
        parse(Body, await json_body(request), action)
    row = await deps.call(request, service.act, ident, action)
    return view(request, row)


def _action(action: str) -> Callable[[Request, str], Coroutine[Any, Any, dict[str, Any]]]:
    async def act(request: Request, ident: str) -> dict[str, Any]:
        return await _act(request, ident, action)
    act.__doc__ = f"Ask for the container to {action} (carried out by the conductor)."
    return act


# One route per action, so that the document lists each and a path's other methods are known.
for _name in rules.ACTIONS:
    router.add_api_route(f"/v1/containers/{{ident}}/{_name}", _action(_name), methods=["POST"],
                         status_code=202, name=f"container_{_name}",
                         openapi_extra=openapi.spec(body={"type": "object", "maxProperties": 0},
                                                    body_required=False))


@router.post("/v1/containers/{ident}/{action}", include_in_schema=False)
async def unknown_action(request: Request, ident: str, action: str) -> None:
    """Any other action: 400 naming the known ones (405 at ``logs``, which is a GET)."""
    # NOTE: routes hidden from the document are left out of a 405's Allow (app.allowed_methods),
    # so a POST to logs answers what a PUT there does.
    if action == "logs":
        raise MethodNotAllowed("The method is not allowed for this resource.")
    raise Invalid(f"Unknown container action {action}; known: "
                  f"{', '.join((*rules.ACTIONS, 'exec'))}.")
