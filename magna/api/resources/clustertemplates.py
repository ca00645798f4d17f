"""``/v1/clustertemplates``: schemas, views and handlers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import ConfigDict, Field, StringConstraints, WithJsonSchema

from magna.api import deps, encoding, openapi, pagination
from magna.api.validation import Body, Flag, LabelValue, Str255, json_body, parse
from magna.domain import coe
from magna.services import clustertemplates as service
from magna.services.readmodels import TemplateRow

router = APIRouter()


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = rf"\s*{_OCTET}(?:\.{_OCTET}){{3}}\s*"
# What ``coe.validate_dns_nameserver`` takes: IPv4 addresses separated by commas.
DNS_SERVERS = {"type": "string", "maxLength": 255, "pattern": f"^{_IPV4}(?:,{_IPV4})*$"}


def _coe_rules() -> dict[str, Any]:
    """Each COE's network and volume drivers (``domain.coe``), for the document."""
    return {"allOf": [
        {"if": {"properties": {"coe": {"const": name}}},
         "then": {"properties": {
             "network_driver": {"enum": [*rules.network_drivers, None]},
             "volume_driver": {"enum": [*rules.volume_drivers, None]}}}}
        for name, rules in coe.RULES.items()]}


class TemplateCreate(Body):
    model_config = ConfigDict(json_schema_extra=_coe_rules())

    uuid: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F-]{32,36}$")] | None = None
    name: Str255 | None = None
    coe: Literal["kubernetes", "swarm-mode"]
    image_id: Str255
    flavor_id: Str255 | None = None
    master_flavor_id: Str255 | None = None
    dns_nameserver: Annotated[Str255, WithJsonSchema(DNS_SERVERS)] | None = None
    keypair_id: Str255 | None = None
    external_network_id: Str255 | None = None
    fixed_network: Str255 | None = None
    fixed_subnet: Str255 | None = None
    network_driver: Str255 | None = None
    volume_driver: Str255 | None = None
    apiserver_port: Annotated[int, Field(ge=1024, le=65535)] | None = None
    docker_volume_size: Annotated[int, Field(ge=1)] | None = None
    docker_storage_driver: Str255 | None = None
    cluster_distro: Str255 | None = None
    http_proxy: Str255 | None = None
    https_proxy: Str255 | None = None
    no_proxy: Str255 | None = None
    registry_enabled: Flag = False
    labels: dict[str, LabelValue] = Field(default_factory=dict)
    tls_disabled: Flag = False
    public: Flag = False
    hidden: Flag = False
    server_type: Annotated[Str255, WithJsonSchema({"enum": list(coe.SERVER_TYPES)})] = "vm"
    insecure_registry: Str255 | None = None
    master_lb_enabled: Flag = False
    floating_ip_enabled: Flag = True
    tags: Annotated[str, StringConstraints(max_length=255)] | None = None
    driver: Str255 | None = None
    # Read-only attributes clients may echo back; accepted and ignored, as upstream.
    project_id: str | None = None
    user_id: str | None = None
    links: list[Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None


READ_ONLY = ("project_id", "user_id", "links", "created_at", "updated_at")


def template_values(data: Any, argument: str = "cluster_template") -> dict[str, Any]:
    values = parse(TemplateCreate, data, argument)
    for name in (*READ_ONLY, "cluster_distro", "driver"):
        values.pop(name, None)
    return values


def retype(doc: dict[str, Any]) -> dict[str, Any]:
    """Validate a patched document with the create rules; keep computed fields."""
    kept = {k: v for k, v in doc.items() if k not in (*READ_ONLY, "uuid")}
    values = parse(TemplateCreate, kept, "cluster_template")
    for name in READ_ONLY:
        values.pop(name, None)
    return {**{k: None for k in kept}, **values}


# The links stand right after cluster_distro, as upstream; the timestamps come last.
_LINKS_AT = service.FIELDS.index("cluster_distro") + 1
_HEAD, _TAIL = service.FIELDS[:_LINKS_AT], service.FIELDS[_LINKS_AT:]
_TIMESTAMPS_AT = len(service.FIELDS)


def view(request: Request, row: TemplateRow, collection: str = "clustertemplates"
         ) -> dict[str, Any]:
    """A template's body: ``row``'s values under its field names, in its order."""
    body: dict[str, Any] = dict(zip(_HEAD, row[:_LINKS_AT], strict=True))
    body["links"] = deps.links(request, collection, row.uuid)
    body.update(zip(_TAIL, row[_LINKS_AT:_TIMESTAMPS_AT], strict=True))
    body["created_at"] = deps.iso(row.created_at)
    body["updated_at"] = deps.iso(row.updated_at)
    return body


PAGING = openapi.spec(query=openapi.paging("clustertemplates"))


@router.get("/v1/clustertemplates", openapi_extra=PAGING)
@router.get("/v1/clustertemplates/detail", openapi_extra=PAGING)
def list_templates(request: Request) -> Response:
    page = pagination.page_from(request)
    detail = request.url.path.endswith("/detail")
    rows = service.list_(deps.services(request), deps.context(request), page,
                         rule="clustertemplate:detail" if detail else "clustertemplate:get_all")
    items = [view(request, row) for row in rows]
    path = "/v1/clustertemplates/detail" if detail else "/v1/clustertemplates"
    return encoding.json_response(pagination.collection(request, "clustertemplates", items,
                                                        page, path,
                                                        rows[-1].uuid if rows else None))


@router.get("/v1/clustertemplates/{ident}")
def show_template(request: Request, ident: str) -> Response:
    row = service.get(deps.services(request), deps.context(request), ident)
    return encoding.json_response(view(request, row))


@router.post("/v1/clustertemplates", status_code=201,
             openapi_extra=openapi.spec(body=TemplateCreate))
async def create_template(request: Request, response: Response) -> dict[str, Any]:
    values = template_values(await json_body(request))
    row = await deps.call(request, service.create, values)
    response.headers["Location"] = deps.links(request, "clustertemplates", row.uuid)[0]["href"]
    return view(request, row)


PATCH = openapi.json_patch(attributes=service.FIELDS, internal=service.INTERNAL,
                          mandatory=service.MANDATORY, typed_by=TemplateCreate)


@router.patch("/v1/clustertemplates/{ident}",
              openapi_extra=openapi.spec(body=PATCH))
async def update_template(request: Request, ident: str) -> dict[str, Any]:
    ops = await json_body(request)
    row = await deps.call(request, service.update, ident, ops, retype)
    return view(request, row)


@router.delete("/v1/clustertemplates/{ident}", status_code=204)
def delete_template(request: Request, ident: str) -> Response:
    service.delete(deps.services(request), deps.context(request), ident)
    return Response(status_code=204)

