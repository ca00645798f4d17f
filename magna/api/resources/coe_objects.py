"""``/v1/pods``, ``/v1/rcs`` and ``/v1/services`` (Magna's extension, as early Magnum had
them): Kubernetes objects of a cluster, created from the user's manifest.

The three collections share their handlers; ``domain.kube_objects.RESOURCES`` says which kind
each serves. Calls answer within the request with what the cluster's API server said (they run
on the threads kept for calls that wait on a cluster, ``deps.call_engines``). The cluster is
named by ``bay_uuid``/``cluster_uuid`` in a create's body and by ``bay_ident``/
``cluster_ident`` in the query otherwise; the old and new spellings are the same thing, both
at once must agree. Unknown query parameters are refused, never ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request, Response
from pydantic import StringConstraints

from magna.api import deps, openapi
from magna.api.validation import Body, Str255, json_body, parse
from magna.common.exceptions import Invalid
from magna.domain import kube_objects as rules
from magna.domain.kube_objects import Resource
from magna.services import coe_objects as service

router = APIRouter()

Manifest = Annotated[str, StringConstraints(min_length=1, max_length=128 * 1024)]
QUERY = frozenset({"bay_ident", "cluster_ident", "namespace"})
Handler = Callable[..., Coroutine[Any, Any, Any]]
# What the document says of names: the rule ``rules.checked_name`` applies with its own 400.
ObjectName = Annotated[str, Path(json_schema_extra={"pattern": rules.NAME_RE.pattern})]
# NOTE: the document names the cluster with ``cluster_ident``/``cluster_uuid``; the old
# ``bay_*`` spellings still work (the handlers' docstrings say so), and giving both is a 400.
QUERY_SPEC = [openapi.param("cluster_ident", {"type": "string", "minLength": 1}, required=True),
              openapi.param("namespace", {"type": "string",
                                          "pattern": rules.NAMESPACE_RE.pattern})]


class ObjectCreate(Body):
    manifest: Manifest
    bay_uuid: Str255 | None = None
    cluster_uuid: Str255 | None = None


def _naming(key: str) -> dict[str, Any]:
    return {"required": [key], "properties": {key: {"type": "string"}}}


# One of the two spellings names the cluster (both at once is a 400 when they differ).
CREATE_SPEC = openapi.spec(body={"allOf": [openapi.ref(ObjectCreate)],
                                 "oneOf": [_naming("cluster_uuid"), _naming("bay_uuid")]})
MANIFEST = {"type": "string", "pattern": r"\S"}


def _one_of(values: Mapping[str, Any], old: str, new: str) -> str:
    given = {values[key] for key in (old, new) if values.get(key)}
    if not given:
        raise Invalid(f"Name the cluster with {old} (or {new}).")
    if len(given) > 1:
        raise Invalid(f"{old} and {new} name different clusters; give one.")
    return str(given.pop())


def _query(request: Request) -> tuple[str, str]:
    """The cluster and namespace a read, update or delete names in its query."""
    params = request.query_params
    unknown = sorted(set(params) - QUERY)
    if unknown:
        raise Invalid(f"Unknown query parameter(s): {', '.join(unknown)}; known: "
                      f"{', '.join(sorted(QUERY))}.")
    cluster = _one_of(params, "bay_ident", "cluster_ident")
    return cluster, rules.checked_namespace(params.get("namespace"))


def view(request: Request, resource: Resource, cluster_uuid: str,
         obj: Mapping[str, Any]) -> dict[str, Any]:
    document = rules.document({"kind": resource.kind, **obj})
    query = urlencode({"bay_ident": cluster_uuid, "namespace": document["namespace"]})
    base, name = deps.base_url(request), document["name"]
    links = [{"href": f"{base}/v1/{resource.collection}/{name}?{query}", "rel": "self"},
             {"href": f"{base}/{resource.collection}/{name}?{query}", "rel": "bookmark"}]
    return {**document, "bay_uuid": cluster_uuid, "cluster_uuid": cluster_uuid,
            "links": links}


def _create(resource: Resource) -> Handler:
    async def create(request: Request) -> dict[str, Any]:
        values = parse(ObjectCreate, await json_body(request), resource.noun)
        cluster = _one_of(values, "bay_uuid", "cluster_uuid")
        uuid, obj = await deps.call_engines(request, service.create, resource, cluster,
                                            values["manifest"])
        return view(request, resource, uuid, obj)
    return create


def _list(resource: Resource) -> Handler:
    async def list_objects(request: Request) -> dict[str, Any]:
        cluster, namespace = _query(request)
        uuid, found = await deps.call_engines(request, service.list_, resource, cluster,
                                              namespace)
        return {resource.collection: [view(request, resource, uuid, obj) for obj in found]}
    return list_objects


def _show(resource: Resource) -> Handler:
    async def show(request: Request, name: ObjectName) -> dict[str, Any]:
        cluster, namespace = _query(request)
        uuid, obj = await deps.call_engines(request, service.get, resource, cluster,
                                            rules.checked_name(name), namespace)
        return view(request, resource, uuid, obj)
    return show


def _update(resource: Resource) -> Handler:
    async def update(request: Request, name: ObjectName) -> dict[str, Any]:
        cluster, namespace = _query(request)
        change = rules.change_of(resource, await json_body(request))
        uuid, obj = await deps.call_engines(request, service.update, resource, cluster,
                                            rules.checked_name(name), namespace, change)
        return view(request, resource, uuid, obj)
    return update


def _delete(resource: Resource) -> Handler:
    async def delete(request: Request, name: ObjectName) -> Response:
        cluster, namespace = _query(request)
        await deps.call_engines(request, service.delete, resource, cluster,
                                rules.checked_name(name), namespace)
        return Response(status_code=204)
    return delete


def _patch_spec(resource: Resource) -> dict[str, Any]:
    values: dict[str, dict[str, Any]] = {"/manifest": MANIFEST}
    if resource.kind == "ReplicationController":
        values["/replicas"] = {"type": "integer", "minimum": 0}
    return openapi.spec(body=openapi.one_replace(values), query=QUERY_SPEC)


_READ = openapi.spec(query=QUERY_SPEC)
for _resource in rules.RESOURCES.values():
    _path = f"/v1/{_resource.collection}"
    router.add_api_route(_path, _create(_resource), methods=["POST"], status_code=201,
                         openapi_extra=CREATE_SPEC)
    router.add_api_route(_path, _list(_resource), methods=["GET"], openapi_extra=_READ)
    router.add_api_route(f"{_path}/{{name}}", _show(_resource), methods=["GET"],
                         openapi_extra=_READ)
    router.add_api_route(f"{_path}/{{name}}", _update(_resource), methods=["PATCH"],
                         openapi_extra=_patch_spec(_resource))
    router.add_api_route(f"{_path}/{{name}}", _delete(_resource), methods=["DELETE"],
                         status_code=204, openapi_extra=_READ)
