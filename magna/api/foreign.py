"""The OpenStack APIs Magna answers beside Magnum's, for its drivers' catalogs: a Nova subset
under ``/compute`` (``resources/compute.py``) and a Glance v2 subset under ``/image``
(``resources/image.py``), so the stock ``openstack keypair|flavor|image`` commands work on a
Magna-only cloud.

The middleware and the error handlers ask this module which API a path belongs to: these paths
are not Magnum's (no ``/v1`` prefix, no container-infra microversion), their version documents
are public as upstream, and their errors take the shape the Nova and Glance clients parse.
"""

from __future__ import annotations

from typing import Any

COMPUTE = "/compute"
IMAGE = "/image"
PREFIXES = (COMPUTE, IMAGE)
PUBLIC_PATHS = {COMPUTE, f"{COMPUTE}/v2.1", IMAGE, f"{IMAGE}/versions"}

# Nova's fault names by status, as its clients read the one key of an error body.
_NOVA_FAULTS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
                405: "badMethod", 406: "notAcceptable", 409: "conflictingRequest",
                413: "overLimit", 501: "notImplemented", 503: "serviceUnavailable"}
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict",
            413: "Request Entity Too Large", 500: "Internal Server Error",
            501: "Not Implemented", 503: "Service Unavailable"}
_MISSING = {COMPUTE: "Magna's compute API offers os-keypairs and flavors only.",
            IMAGE: "Magna's image API offers reading images only."}


def api_of(path: str) -> str | None:
    """``COMPUTE``, ``IMAGE`` or None (Magnum's API) for a request path."""
    for prefix in PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


def error_body(api: str, status: int, message: str) -> dict[str, Any]:
    """Nova's ``{"<fault>": {"code", "message"}}`` or Glance's ``{"code", "title",
    "message"}`` (webob's JSON error, what Glance answers a JSON client)."""
    if api == COMPUTE:
        return {_NOVA_FAULTS.get(status, "computeFault"): {"code": status, "message": message}}
    reason = _REASONS.get(status, "Error")
    return {"code": f"{status} {reason}", "title": reason, "message": message}


def route_missing(api: str) -> str:
    return f"The resource could not be found. {_MISSING[api]}"
