"""A Nova subset at ``/compute/v2.1``: ``os-keypairs`` and ``flavors``, for the stock
``openstack keypair create|list|show|delete`` and ``openstack flavor list|show``.

Keypairs are the ones ``/v1/keypairs`` stores (``services/keypairs.py``: the same store, the
same owner rules), so a key made here is the one a template names and the nodes authorize.
Flavors are the enabled drivers' (``services/catalog_reads.py``). The bodies, statuses and
query parameters follow Nova at the negotiated microversion (``api/nova_microversion.py``);
errors take Nova's shape (``api/foreign.py``). Nothing else of Nova is here: any other path is
a 404 saying what is offered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

from magna.api import deps, foreign, nova_microversion
from magna.api.microversion import Version
from magna.api.validation import Body, Str255, json_body, parse
from magna.common.exceptions import Invalid
from magna.drivers.catalog import Flavor, Keypair
from magna.services import catalog_reads
from magna.services import keypairs as service

router = APIRouter(prefix=foreign.COMPUTE, include_in_schema=False)
V = Version
T = TypeVar("T")


class NovaKeypair(Body):
    name: Str255
    public_key: Annotated[str, StringConstraints(min_length=1, max_length=16384)] | None = None
    type: Literal["ssh", "x509"] | None = None
    user_id: Str255 | None = None


# -- plumbing ---------------------------------------------------------------------------------

def _version(request: Request) -> Version:
    """What ``middleware.ComputeMicroversion`` negotiated (and names on the answer)."""
    version: Version = request.state.compute_version
    return version


def _reply(body: Any, status: int = 200) -> Response:
    if body is None:
        return Response(status_code=status)
    return JSONResponse(body, status_code=status)


def _query(request: Request, version: Version,
           allowed: dict[str, Version]) -> dict[str, str]:
    """The query parameters, each allowed from its microversion on; any other is a 400."""
    found = dict(request.query_params)
    for name in found:
        since = allowed.get(name)
        if since is None:
            raise Invalid(f"Invalid input for query parameters {name}. Additional properties "
                          f"are not allowed (accepted: {', '.join(sorted(allowed))}).")
        if version < since:
            raise Invalid(f"Query parameter {name} needs compute API version {since} or "
                          "later.")
    return found


def _natural(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise Invalid(f"Invalid input for query parameters {name}. Value: {value}. "
                      "Not a non-negative integer.")
    return int(value)


def _page(rows: Sequence[T], key: Callable[[T], str], query: dict[str, str]
          ) -> tuple[Sequence[T], bool]:
    """The rows after ``marker``, at most ``limit`` of them, and whether more follow."""
    marker = query.get("marker")
    if marker is not None:
        keys = [key(r) for r in rows]
        if marker not in keys:
            raise Invalid(f"marker [{marker}] not found")
        rows = rows[keys.index(marker) + 1:]
    limit = _natural(query, "limit")
    if limit is None:
        return rows, False
    return rows[:limit], len(rows) > limit


def _next_link(request: Request, path: str, limit: str, marker: str) -> list[dict[str, str]]:
    href = f"{deps.base_url(request)}{foreign.COMPUTE}/v2.1/{path}?limit={limit}&marker={marker}"
    return [{"rel": "next", "href": href}]


# -- versions ---------------------------------------------------------------------------------

def _version_doc(request: Request) -> dict[str, Any]:
    base = deps.base_url(request)
    return {"id": "v2.1", "status": "CURRENT", "version": str(nova_microversion.MAX_VERSION),
            "min_version": str(nova_microversion.MIN_VERSION),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}{foreign.COMPUTE}/v2.1/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


@router.get("")
def versions(request: Request) -> dict[str, Any]:
    return {"versions": [_version_doc(request)]}


@router.get("/v2.1")
def version(request: Request) -> dict[str, Any]:
    return {"version": _version_doc(request)}


# -- keypairs ---------------------------------------------------------------------------------

KEYPAIR_QUERY = {"user_id": V(2, 10), "limit": V(2, 35), "marker": V(2, 35)}


def _keypair(keypair: Keypair, version: Version, *, full: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {"name": keypair.name, "public_key": keypair.public_key,
                            "fingerprint": service.md5_fingerprint(keypair.public_key)}
    if version >= V(2, 2):
        view["type"] = "ssh"
    if full:
        view["user_id"] = keypair.user_id
    return view


def _keypair_shown(keypair: Keypair, version: Version) -> dict[str, Any]:
    created = keypair.created_at.replace(tzinfo=None).isoformat() if keypair.created_at else None
    return {**_keypair(keypair, version, full=True), "id": _keypair_id(keypair.name),
            "created_at": created, "updated_at": None, "deleted": False, "deleted_at": None}


def _keypair_id(name: str) -> int:
    """Nova's integer id (a row number there): a stable number derived from the name here."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFFFFFF


@router.get("/v2.1/os-keypairs")
def list_keypairs(request: Request) -> Response:
    version = _version(request)
    query = _query(request, version, KEYPAIR_QUERY)
    rows = service.list_(deps.services(request), deps.context(request),
                         user_id=query.get("user_id"))
    page, more = _page(rows, lambda k: k.name, query)
    body: dict[str, Any] = {"keypairs": [{"keypair": _keypair(k, version)} for k in page]}
    if more:
        body["keypairs_links"] = _next_link(request, "os-keypairs", query["limit"],
                                            page[-1].name)
    return _reply(body)


@router.get("/v2.1/os-keypairs/{name}")
def show_keypair(request: Request, name: str) -> Response:
    version = _version(request)
    query = _query(request, version, {"user_id": V(2, 10)})
    keypair = service.get(deps.services(request), deps.context(request), name,
                          user_id=query.get("user_id"))
    return _reply({"keypair": _keypair_shown(keypair, version)})


@router.post("/v2.1/os-keypairs")
async def create_keypair(request: Request) -> Response:
    version = _version(request)
    data = _keypair_body(await json_body(request), version)
    if data.get("public_key") is None:
        keypair, private = await deps.call(request, service.generate, data["name"],
                                           user_id=data.get("user_id"))
        view = {**_keypair(keypair, version, full=True), "private_key": private}
    else:
        keypair = await deps.call(request, service.create, data["name"], data["public_key"],
                                  user_id=data.get("user_id"))
        view = _keypair(keypair, version, full=True)
    return _reply({"keypair": view}, 201 if version >= V(2, 2) else 200)


def _keypair_body(data: Any, version: Version) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != {"keypair"}:
        raise Invalid("Invalid input for field/attribute keypair. The body must be "
                      '{"keypair": {"name": ..., "public_key": ...}}.')
    fields = parse(NovaKeypair, data["keypair"], "keypair")
    for name, since in (("type", V(2, 2)), ("user_id", V(2, 10))):
        if name in fields and version < since:
            raise Invalid(f"Additional properties are not allowed ('{name}' needs compute API "
                          f"version {since} or later).")
    if fields.get("type") == "x509":
        raise Invalid("Keypair type x509 is not supported: Magna's nodes authorize OpenSSH "
                      "public keys (type ssh) only.")
    if "public_key" not in fields and version >= V(2, 92):
        raise Invalid("Invalid input for field/attribute public_key. Mandatory field missing "
                      "(from compute API version 2.92 on, keys are not generated).")
    return fields


@router.delete("/v2.1/os-keypairs/{name}")
async def delete_keypair(request: Request, name: str) -> Response:
    version = _version(request)
    query = _query(request, version, {"user_id": V(2, 10)})
    await deps.call(request, service.delete, name, user_id=query.get("user_id"))
    return _reply(None, 204 if version >= V(2, 2) else 202)


# -- flavors ----------------------------------------------------------------------------------

FLAVOR_QUERY = {name: V(2, 1) for name in ("is_public", "minRam", "minDisk", "sort_key",
                                           "sort_dir", "limit", "marker")}
SORT_KEYS: dict[str, Callable[[Flavor], Any]] = {
    "flavorid": lambda f: f.id, "id": lambda f: f.id, "name": lambda f: f.name,
    "memory_mb": lambda f: f.ram_mb, "vcpus": lambda f: f.vcpus, "root_gb": lambda f: f.disk_gb}


def _flavor_links(request: Request, flavor: Flavor) -> list[dict[str, str]]:
    base = f"{deps.base_url(request)}{foreign.COMPUTE}"
    return [{"rel": "self", "href": f"{base}/v2.1/flavors/{flavor.id}"},
            {"rel": "bookmark", "href": f"{base}/flavors/{flavor.id}"}]


def _flavor(request: Request, flavor: Flavor, version: Version) -> dict[str, Any]:
    view: dict[str, Any] = {"id": flavor.id, "name": flavor.name,
                            "links": _flavor_links(request, flavor)}
    if version >= V(2, 55):
        view["description"] = None
    return view


def _flavor_detail(request: Request, flavor: Flavor, version: Version) -> dict[str, Any]:
    view = {**_flavor(request, flavor, version), "ram": flavor.ram_mb, "disk": flavor.disk_gb,
            "vcpus": flavor.vcpus, "OS-FLV-EXT-DATA:ephemeral": 0,
            "OS-FLV-DISABLED:disabled": False, "rxtx_factor": 1.0,
            "swap": 0 if version >= V(2, 75) else "", "os-flavor-access:is_public": True}
    if version >= V(2, 61):
        view["extra_specs"] = {}
    return view


def _flavors(request: Request, version: Version) -> tuple[Sequence[Flavor], dict[str, str],
                                                          bool]:
    query = _query(request, version, FLAVOR_QUERY)
    rows = catalog_reads.flavors(deps.services(request))
    # NOTE: every flavor of a driver's catalog is public: asking for private ones finds none.
    if query.get("is_public", "true").lower() in ("false", "0", "no", "f"):
        rows = []
    rows = [f for f in rows if f.ram_mb >= (_natural(query, "minRam") or 0)
            and f.disk_gb >= (_natural(query, "minDisk") or 0)]
    page, more = _page(_sorted(rows, query), lambda f: f.id, query)
    return page, query, more


def _sorted(rows: list[Flavor], query: dict[str, str]) -> list[Flavor]:
    key = query.get("sort_key", "flavorid")
    direction = query.get("sort_dir", "asc")
    if key not in SORT_KEYS:
        raise Invalid(f"Invalid sort_key {key}: one of {', '.join(SORT_KEYS)}.")
    if direction not in ("asc", "desc"):
        raise Invalid(f"Invalid sort_dir {direction}: asc or desc.")
    return sorted(rows, key=SORT_KEYS[key], reverse=direction == "desc")


def _flavor_list(request: Request, view: Callable[[Request, Flavor, Version], Any]) -> Response:
    version = _version(request)
    page, query, more = _flavors(request, version)
    body: dict[str, Any] = {"flavors": [view(request, f, version) for f in page]}
    if more:
        body["flavors_links"] = _next_link(request, "flavors", query["limit"], page[-1].id)
    return _reply(body)


@router.get("/v2.1/flavors")
def list_flavors(request: Request) -> Response:
    return _flavor_list(request, _flavor)


@router.get("/v2.1/flavors/detail")
def list_flavors_detail(request: Request) -> Response:
    return _flavor_list(request, _flavor_detail)


@router.get("/v2.1/flavors/{flavor_id}")
def show_flavor(request: Request, flavor_id: str) -> Response:
    version = _version(request)
    flavor = catalog_reads.flavor(deps.services(request), flavor_id)
    return _reply({"flavor": _flavor_detail(request, flavor, version)})


@router.get("/v2.1/flavors/{flavor_id}/os-extra_specs")
def flavor_extra_specs(request: Request, flavor_id: str) -> Response:
    catalog_reads.flavor(deps.services(request), flavor_id)
    return _reply({"extra_specs": {}})
