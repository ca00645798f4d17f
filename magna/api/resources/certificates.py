"""``/v1/certificates``: read a cluster's CA, sign a CSR with it (201), rotate it (202).

Not gated by microversion, as upstream. ``ca_cert_type`` (``etcd``, ``front_proxy`` or
``front-proxy``) selects one of the cluster's auxiliary CAs; the default is the main CA.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import StringConstraints, WithJsonSchema

from magna.api import deps, openapi
from magna.api.validation import Body, Str255, json_body, parse
from magna.services import certificates as service
from magna.services import pki

router = APIRouter()


# What ``pki.kind_of`` takes (it answers 400 naming them otherwise).
CA_TYPES = {"type": "string", "enum": sorted(pki.KINDS)}


class CertificateCreate(Body):
    cluster_uuid: Str255
    csr: Annotated[str, StringConstraints(min_length=1)]
    ca_cert_type: Annotated[Str255, WithJsonSchema(CA_TYPES)] | None = None
    # Read-only attributes clients may echo back are accepted and ignored, as upstream.
    bay_uuid: Any = None
    pem: Any = None
    links: Any = None
    created_at: Any = None
    updated_at: Any = None


def certificate_values(data: Any) -> dict[str, Any]:
    """The sign request; the legacy ``bay_uuid`` names the cluster when ``cluster_uuid`` is
    absent (legacy bay-era clients)."""
    if isinstance(data, dict) and data.get("cluster_uuid") is None and data.get("bay_uuid"):
        data = {**data, "cluster_uuid": data["bay_uuid"]}
    return parse(CertificateCreate, data, "certificate")


def links(request: Request, cluster_uuid: str) -> list[dict[str, Any]]:
    return deps.links(request, "certificates", cluster_uuid)


CA_TYPE = openapi.param("ca_cert_type", CA_TYPES)


@router.get("/v1/certificates/{cluster_ident}", openapi_extra=openapi.spec(query=[CA_TYPE]))
def show_certificate(request: Request, cluster_ident: str) -> dict[str, Any]:
    ca_cert_type = request.query_params.get("ca_cert_type") or None
    cluster, pem = service.get_ca(deps.services(request), deps.context(request), cluster_ident,
                                  ca_cert_type)
    return {"cluster_uuid": cluster.uuid, "pem": pem, "links": links(request, cluster.uuid)}


@router.post("/v1/certificates", status_code=201,
             openapi_extra=openapi.spec(body=CertificateCreate))
async def sign_certificate(request: Request) -> dict[str, Any]:
    values = certificate_values(await json_body(request))
    cluster, pem = await deps.call(request, service.sign, values["cluster_uuid"],
                                   values["csr"], values.get("ca_cert_type"))
    return {"cluster_uuid": cluster.uuid, "csr": values["csr"], "pem": pem,
            "links": links(request, cluster.uuid)}


@router.patch("/v1/certificates/{cluster_ident}", status_code=202)
async def rotate_ca(request: Request, cluster_ident: str) -> dict[str, Any]:
    # NOTE: clients send no body (``ca rotate`` uses application/octet-stream); none is read.
    cluster = await deps.call(request, service.rotate_ca, cluster_ident)
    return {"uuid": cluster.uuid}
