"""``GET /v1/openapi.json`` (the API document) and ``GET /v1/reference`` (it, as a page).

Both are public like version discovery: the document holds no tenant's data, and a browser
opening ``/`` is led to the page before it has any token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from magna.api import deps, openapi, reference

router = APIRouter()

DOCUMENT_PATH = "/v1/openapi.json"
PAGE_PATH = "/v1/reference"


@router.get(DOCUMENT_PATH)
def api_document(request: Request) -> dict[str, Any]:
    """This API's OpenAPI document."""
    return openapi.cached(request.app)


@router.get(PAGE_PATH, response_class=HTMLResponse)
def api_reference(request: Request) -> HTMLResponse:
    """The API document as an HTML page (no script, nothing fetched from elsewhere)."""
    page = reference.render(openapi.cached(request.app),
                            document_url=f"{deps.base_url(request)}{DOCUMENT_PATH}")
    return HTMLResponse(page)
