"""``/v1/keypairs``: Magna's extension for uploading the public keys clusters name.

``POST`` ``{"name", "public_key"}`` answers 201 with the keypair; ``GET`` lists or shows one;
``DELETE`` answers 204. Upstream these live in Nova (``nova keypair-add``); see
``services/keypairs.py`` for where they are stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import StringConstraints, WithJsonSchema

from magna.api import deps, openapi
from magna.api.validation import Body, Str255, json_body, parse
from magna.drivers.catalog import Keypair
from magna.services import keypairs as service

router = APIRouter()


class KeypairCreate(Body):
    name: Annotated[Str255, WithJsonSchema({"type": "string",
                                            "pattern": service.NAME_RE.pattern})]
    public_key: Annotated[str, StringConstraints(min_length=1, max_length=16384)]


def view(request: Request, keypair: Keypair) -> dict[str, Any]:
    return {"name": keypair.name, "public_key": keypair.public_key,
            "fingerprint": service.fingerprint(keypair.public_key),
            "links": deps.links(request, "keypairs", keypair.name)}


@router.get("/v1/keypairs")
def list_keypairs(request: Request) -> dict[str, Any]:
    rows = service.list_(deps.services(request), deps.context(request))
    return {"keypairs": [view(request, k) for k in rows]}


@router.get("/v1/keypairs/{name}")
def show_keypair(request: Request, name: str) -> dict[str, Any]:
    return view(request, service.get(deps.services(request), deps.context(request), name))


@router.post("/v1/keypairs", status_code=201, openapi_extra=openapi.spec(body=KeypairCreate))
async def create_keypair(request: Request) -> dict[str, Any]:
    data = parse(KeypairCreate, await json_body(request), "keypair")
    keypair = await deps.call(request, service.create, data["name"], data["public_key"])
    return view(request, keypair)


@router.delete("/v1/keypairs/{name}", status_code=204)
async def delete_keypair(request: Request, name: str) -> Response:
    await deps.call(request, service.delete, name)
    return Response(status_code=204)
