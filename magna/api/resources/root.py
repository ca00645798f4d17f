"""Version discovery: ``GET /`` and ``GET /v1`` (no authentication needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from magna.api import deps, microversion

router = APIRouter()

RESOURCES = ("clustertemplates", "clusters", "quotas", "certificates", "mservices", "stats",
             "federations", "nodegroups", "credentials")
# Magna's own extensions, listed after Magnum's resources (see docs/api-extensions.md).
EXTENSIONS = ("containers", "keypairs", "pods", "rcs", "services")


@router.get("/")
def versions(request: Request) -> dict[str, Any]:
    base = deps.base_url(request)
    return {
        "name": "OpenStack Magnum API",
        "description": "Magnum is an OpenStack project which aims to provide container "
                       "cluster management.",
        "versions": [{"id": "v1", "links": [{"href": f"{base}/v1/", "rel": "self"}],
                      "status": "CURRENT", "max_version": str(microversion.MAX_VERSION),
                      "min_version": str(microversion.MIN_VERSION)}],
    }


@router.get("/v1")
def v1(request: Request) -> dict[str, Any]:
    base = deps.base_url(request)
    body: dict[str, Any] = {
        "id": "v1",
        "media_types": [{"base": "application/json",
                         "type": "application/vnd.openstack.magnum.v1+json"}],
        "links": [{"href": f"{base}/v1/", "rel": "self"},
                  {"href": "http://docs.openstack.org/developer/magnum/dev/api-spec-v1.html",
                   "rel": "describedby", "type": "text/html"}],
    }
    for name in (*RESOURCES, *EXTENSIONS):
        path = "clusters/{cluster_id}/nodegroups" if name == "nodegroups" else f"{name}/"
        body[name] = [{"href": f"{base}/v1/{path}", "rel": "self"},
                      {"href": f"{base}/{path}", "rel": "bookmark"}]
    return body


@router.get("/healthcheck")
def healthcheck() -> dict[str, str]:
    return {"status": "OK"}
