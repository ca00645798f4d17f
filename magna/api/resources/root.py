"""Version discovery: ``GET /`` and ``GET /v1`` (no authentication needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from magna.api import deps, microversion
from magna.api.resources.reference import DOCUMENT_PATH, PAGE_PATH

router = APIRouter()

RESOURCES = ("clustertemplates", "clusters", "quotas", "certificates", "mservices", "stats",
             "federations", "nodegroups", "credentials")
# Magna's own extensions, listed after Magnum's resources (see docs/api-extensions.md).
EXTENSIONS = ("containers", "keypairs", "pods", "rcs", "services")


# Where a browser opening ``/`` is sent: the dashboard, or the API reference without it.
DASHBOARD_HOME = "/dashboard/"


def wants_html(accept: str) -> bool:
    """Whether ``accept`` ranks text/html above JSON (a browser's, not a client's or curl's)."""
    ranks: dict[str, float] = {}
    for part in accept.lower().split(","):
        kind, *options = [item.strip() for item in part.split(";")]
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranks[kind] = max(quality, ranks.get(kind, 0.0))
    json_rank = max(ranks.get("application/json", 0.0), ranks.get("*/*", 0.0))
    return ranks.get("text/html", 0.0) > json_rank


@router.get("/", responses={303: {"description": "A browser (Accept: text/html) is sent to "
                                                 "the dashboard (or, with the dashboard "
                                                 "disabled, the API reference page).",
                                  "headers": {"Location": {"schema": {"type": "string"}}}}})
def versions(request: Request) -> Response:
    """Version discovery (Magnum's root document); ``Link`` names the API document."""
    base = deps.base_url(request)
    if wants_html(request.headers.get("accept", "")):
        home = DASHBOARD_HOME if deps.services(request).conf.dashboard.enabled else PAGE_PATH
        return RedirectResponse(f"{base}{home}", status_code=303)
    link = {"Link": f'<{base}{DOCUMENT_PATH}>; rel="service-desc"'}
    return JSONResponse(_versions(base), headers=link)


def _versions(base: str) -> dict[str, Any]:
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
