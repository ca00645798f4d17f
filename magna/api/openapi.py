"""The API document, ``/v1/openapi.json``: what FastAPI derives from the routes, made true.

Handlers read their bodies and queries themselves (``validation.parse`` gives Magnum's error
wording), so FastAPI sees no request schema, no query parameter and none of the error answers.
Each route says what it takes with ``spec(...)`` in its decorator's ``openapi_extra`` (beside
the handler, from the same pydantic models that validate); ``document`` then adds what every
route shares: the ``OpenStack-API-Version`` header (required, and limited to the versions that
serve it, where a route needs more than 1.1), the error answers each route can give in Magnum's
error shape, and the components.

What the document calls valid is what validation accepts: bodies are strict (``Body``), an
optional attribute may be ``null`` (``parse`` drops nulls), ``sort_key`` is an enum of the
sortable columns. Rules that depend on stored state (a name already taken, an image the catalog
does not have) are not in the schemas; they answer the 4xx declared for each route.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from magna.api import microversion
from magna.api.microversion import Version
from magna.api.middleware import PUBLIC_PATHS
from magna.domain import patch
from magna.services import sorting

REF = "#/components/schemas/"
#: A master count's rule (``services.clusters``: "size cannot be an even number"), for the
#: document only: the service checks it with upstream's wording.
ODD: dict[str, Any] = {"not": {"multipleOf": 2}}
#: Models named by ``spec(body=...)``, put in the document's components.
_MODELS: dict[str, type[BaseModel]] = {}
_SINCE = "x-magna-since"


def param(name: str, schema: dict[str, Any], *, required: bool = False,
          where: str = "query", description: str = "") -> dict[str, Any]:
    found = {"name": name, "in": where, "required": required, "schema": schema}
    return {**found, "description": description} if description else found


def paging(collection: str, *, integer_marker: bool = False) -> list[dict[str, Any]]:
    """``limit``, ``marker``, ``sort_key`` and ``sort_dir`` of a collection's list."""
    # NOTE: an empty marker (or limit, sort_key, sort_dir) is the same as none.
    marker: dict[str, Any] = ({"type": "string", "pattern": r"^\d{0,18}$"} if integer_marker
                              else {"type": "string"})
    return [
        param("limit", {"type": "string", "pattern": "^(?:0*[1-9][0-9]*)?$"},
              description="Page size (at most [api] max_limit)."),
        param("marker", marker, description="The last item of the previous page."),
        param("sort_key", {"type": "string",
                           "enum": [*sorting.sort_keys(collection), ""]}),
        param("sort_dir", {"type": "string", "enum": ["asc", "desc", ""]}),
    ]


def flag(name: str) -> dict[str, Any]:
    """A boolean query parameter, spelled as ``params.boolean`` reads it."""
    words = ["0", "1", "f", "false", "n", "no", "off", "on", "t", "true", "y", "yes"]
    return param(name, {"type": "string", "enum": words})


def spec(*, body: type[BaseModel] | dict[str, Any] | None = None, body_required: bool = True,
         query: Iterable[dict[str, Any]] = (), since: Version | None = None) -> dict[str, Any]:
    """A route's ``openapi_extra``: its request body, query parameters and first version."""
    extra: dict[str, Any] = {}
    if body is not None:
        schema = body if isinstance(body, dict) else ref(body)
        extra["requestBody"] = {"required": body_required,
                                "content": {"application/json": {"schema": schema}}}
    parameters = list(query)
    if parameters:
        extra["parameters"] = parameters
    if since is not None:
        extra[_SINCE] = str(since)
    return extra


def ref(model: type[BaseModel]) -> dict[str, Any]:
    """A reference to ``model``'s schema, which the document then carries in its components."""
    _MODELS[model.__name__] = model
    return {"$ref": f"{REF}{model.__name__}"}


def one_replace(values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A JSON patch of exactly one ``replace``, of one of ``values``' paths with a value of
    its schema (what ``domain.kube_objects.change_of`` accepts)."""
    options = [{"type": "object", "additionalProperties": False,
                "required": ["op", "path", "value"],
                "properties": {"op": {"enum": ["replace"]}, "path": {"enum": [path]},
                               "value": schema}} for path, schema in values.items()]
    return {"type": "array", "minItems": 1, "maxItems": 1, "items": {"anyOf": options}}


def json_patch(paths: Sequence[str] | None = None, *, attributes: Iterable[str] = (),
               internal: Iterable[str] = (), mandatory: Iterable[str] = (),
               typed_by: type[BaseModel] | None = None,
               mappings: Iterable[str] | None = None) -> dict[str, Any]:
    """A JSON-patch document as ``domain.patch.validate_ops`` accepts it (with the SDK's
    ``move /uuid -> /id``); ``paths`` limits the attributes when the resource has a short
    list of them. ``attributes`` are those of the resource's patchable document
    (``domain.patch.apply``'s ``doc``), less its ``internal`` ones (``/name`` spelled) and,
    for a ``remove``, its ``mandatory`` ones: a path names one of them or lies below it.
    With ``typed_by`` (the model that validates the patched document), the value set on an
    attribute has that model's schema for it; without, ``mappings`` names the attributes a
    path may go below (all when not given)."""
    hidden = {*internal, *patch.COMMON_INTERNAL}
    shown = [name for name in attributes if f"/{name}" not in hidden]
    if typed_by is not None:
        properties = typed_by.model_json_schema()["properties"]
        mappings = [name for name in shown if _entries(properties[name]) is not None]
    removable = _patch_path(paths, [n for n in shown if f"/{n}" not in set(mandatory)],
                            mappings)
    setting = ([_set_op(_patch_path(paths, shown, mappings), {})] if typed_by is None
               else _typed_set_ops(shown, typed_by))
    remove = {"type": "object", "additionalProperties": False, "required": ["op", "path"],
              "properties": {"op": {"enum": ["remove"]}, "path": removable, "value": {}}}
    rename = {"type": "object", "additionalProperties": False,
              "required": ["op", "from", "path"],
              "properties": {k: {"enum": [v]} for k, v in patch.SDK_RENAME.items()}}
    return {"type": "array", "items": {"anyOf": [*setting, remove, rename]}}


def _set_op(path: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "required": ["op", "path", "value"],
            "properties": {"op": {"enum": ["add", "replace"]}, "path": path, "value": value}}


def _typed_set_ops(attributes: Sequence[str], model: type[BaseModel]) -> list[dict[str, Any]]:
    """An ``add``/``replace`` of each attribute with a value of its schema in ``model``, and
    of one entry of a mapping attribute (a label) with a value of its entries' schema."""
    own = ref(model)["$ref"]
    properties = model.model_json_schema()["properties"]
    ops = [_set_op({"enum": [f"/{name}"]}, {"$ref": f"{own}/properties/{name}"})
           for name in attributes]
    for name in attributes:
        entries = _entries(properties[name])
        if entries is not None:
            ops.append(_set_op({"type": "string", "pattern": rf"^/{name}/[\w-]+$"}, entries))
    return ops


def _entries(prop: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a mapping's values, when ``prop`` is (or may be) a mapping."""
    for option in [prop, *prop.get("anyOf", ())]:
        if option.get("type") == "object" and isinstance(option.get("additionalProperties"),
                                                         dict):
            found: dict[str, Any] = option["additionalProperties"]
            return found
    return None


def _patch_path(paths: Sequence[str] | None, attributes: Sequence[str],
                mappings: Iterable[str] | None = None) -> dict[str, Any]:
    if paths:
        return {"type": "string", "enum": list(paths)}
    if attributes and mappings is not None:
        below = "|".join(sorted(set(mappings) & set(attributes)))
        names = "|".join(sorted(attributes))
        return {"type": "string", "pattern": rf"^/(?:(?:{names})|(?:{below})/[\w-]+)$"}
    if attributes:
        names = "|".join(sorted(attributes))
        return {"type": "string", "pattern": rf"^/(?:{names})(?:/[\w-]+)*$"}
    return {"type": "string", "pattern": patch.PATH_RE.pattern}


# -- the whole document ----------------------------------------------------------------------

def document(app: FastAPI) -> dict[str, Any]:
    """The document for ``app``'s routes (built once per app and cached by FastAPI)."""
    doc = get_openapi(title=app.title, version=str(microversion.MAX_VERSION),
                      description=DESCRIPTION, routes=app.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_error_components())
    components["responses"] = {_REASON_NAMES[status]: _error_response(status)
                               for status in _REASONS}
    components["parameters"] = {}
    for model in list(_MODELS.values()):
        schemas.update(_model_components(model))
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            _complete(path, operation, components["parameters"])
    return doc


DESCRIPTION = (
    "OpenStack Magnum's container-infrastructure API v1 as Magna serves it, with Magna's "
    "extensions (docs/api-extensions.md). Send `OpenStack-API-Version: container-infra "
    "<version>` (1.1 to 1.14, or `latest`); without it a request is served at 1.1. Errors "
    "come in Magnum's shape (`Error`), except the out-of-range microversion's 406 "
    "(`MicroversionError`) and Keystone's 401 (`KeystoneError`).")


def _model_components(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF + "{model}")
    found = {name: _nullable_optionals(sub) for name, sub in schema.pop("$defs", {}).items()}
    found[model.__name__] = _nullable_optionals(schema)
    return found


def _nullable_optionals(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional attribute may be ``null``: ``validation.parse`` treats it as absent."""
    schema = copy.deepcopy(schema)
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if name not in required and prop and not _allows_null(prop):
            schema["properties"][name] = {"anyOf": [prop, {"type": "null"}],
                                          **_annotations(prop)}
    return schema


def _allows_null(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(
        option.get("type") == "null" for option in prop.get("anyOf", ()))


def _annotations(prop: dict[str, Any]) -> dict[str, Any]:
    return {key: prop[key] for key in ("title", "default", "description") if key in prop}


# -- one operation -----------------------------------------------------------------------------

def _complete(path: str, operation: dict[str, Any], parameters: dict[str, Any]) -> None:
    since = Version(*map(int, operation.pop(_SINCE, "1.1").split(".")))
    if path.startswith("/v1"):
        # NOTE: the SDK's cluster actions are served at their own version without the header
        # (microversion.UNVERSIONED): there it may be left out.
        optional = since == microversion.unversioned(re.sub(r"\{[^}]+\}", "x", path))
        name = f"ApiVersionFrom1_{since.minor}{'_or_none' if optional else ''}"
        parameters.setdefault(name, _version_header(since, optional=optional))
        operation.setdefault("parameters", []).append(
            {"$ref": f"#/components/parameters/{name}"})
    responses = operation["responses"]
    responses.pop("422", None)  # FastAPI's own validation answer; Magna answers 400
    for status in _error_statuses(path):
        responses.setdefault(str(status),
                             {"$ref": f"#/components/responses/{_REASON_NAMES[status]}"})


def _version_header(since: Version, *, optional: bool = False) -> dict[str, Any]:
    last = microversion.MAX_VERSION.minor
    versions = [str(Version(1, minor)) for minor in range(since.minor, last + 1)]
    values = [f"{service} {v}" for service in sorted(microversion.ACCEPTED_SERVICES)
              for v in [*versions, "latest"]]
    required = since > microversion.MIN_VERSION and not optional
    if not required:
        values.append("")  # an empty header is no header: 1.1, or the call's own version
    note = (f"Needed: this call exists from {since} on." if required
            else f"Default {since}.")
    return param("OpenStack-API-Version", {"type": "string", "enum": values},
                 required=required, where="header", description=note)


def _error_statuses(path: str) -> list[int]:
    """What a route can answer besides its success.

    Every /v1 route: 406 (microversion header), 413 (body over the limit). Authenticated
    routes: 400 (input), 401, 403 (policy), 404 (what it names, or a marker), 409 (a name two
    objects share, or the state forbids it), 503 (Keystone or a cluster's engine not
    answering).
    """
    statuses = [413]
    if path.startswith("/v1"):
        statuses.append(406)
    if path not in PUBLIC_PATHS:
        statuses += [400, 401, 403, 404, 409, 503]
    return sorted(statuses)


def _error_response(status: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"$ref": f"{REF}Error"}
    if status == 401:
        schema = {"anyOf": [{"$ref": f"{REF}KeystoneError"}, schema]}
    if status == 406:
        schema = {"anyOf": [schema, {"$ref": f"{REF}MicroversionError"}]}
    return {"description": _REASONS[status], "content": {"application/json": {"schema": schema}}}


_REASONS = {400: "Bad request: the body, query or path is not acceptable.",
            401: "Not authenticated.", 403: "Forbidden by policy.", 404: "Not found.",
            406: "Not acceptable: the microversion cannot serve this request.",
            409: "Conflict with the current state.", 413: "The request body is too large.",
            503: "A dependency is not answering; retry later."}
_REASON_NAMES = {400: "BadRequest", 401: "NotAuthenticated", 403: "Forbidden", 404: "NotFound",
                 406: "NotAcceptable", 409: "Conflict", 413: "TooLarge", 503: "Unavailable"}


def _error_components() -> dict[str, Any]:
    text, nullable_text = {"type": "string"}, {"type": ["string", "null"]}
    link = {"type": "object", "properties": {"href": text, "rel": text}}
    item = {"type": "object", "required": ["code", "status", "title", "detail"],
            "properties": {"request_id": nullable_text, "code": text,
                           "status": {"type": "integer"}, "title": text, "detail": text,
                           "links": {"type": "array", "items": link}}}
    versioned = {"type": "object", "required": ["code", "title", "min_version", "max_version"],
                 "properties": {"code": text, "title": text, "min_version": text,
                                "max_version": text, "links": {"type": "array", "items": link}}}
    keystone = {"type": "object", "required": ["code", "title", "message"],
                "properties": {"code": {"type": "integer"}, "title": text, "message": text}}
    return {
        "Error": _envelope("errors", {"type": "array", "items": item, "minItems": 1}),
        "MicroversionError": _envelope("errors", {"type": "array", "items": versioned}),
        "KeystoneError": _envelope("error", keystone),
    }


def _envelope(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: schema}}


def cached(app: FastAPI) -> dict[str, Any]:
    """``document(app)``, built on first use (the routes do not change while it serves)."""
    found: dict[str, Any] | None = getattr(app.state, "openapi_document", None)
    if found is None:
        found = app.state.openapi_document = document(app)
    return found
