"""The dashboard's only way to act: the v1 API, called in process with the user's identity.

The API stack (middleware, policy, validation) is reached through httpx's ASGI transport, so a
page shows exactly what the API answers, errors included, and a reader refused by the policy
is refused here too. ``ApiError`` carries the API's own message for the page to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import ASGIApp

# The newest microversion the API serves: the dashboard uses every feature of it.
VERSION = "container-infra latest"
# NOTE: the in-process transport never leaves the process; the name only fills the Host header.
BASE_URL = "http://magna-dashboard.internal"


@dataclass
class ApiError(Exception):
    status: int
    message: str

    def __str__(self) -> str:
        return self.message


def message_of(response: httpx.Response) -> str:
    """The human message of an API error body (Magnum's, Keystone's 401 or a bare text)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        if body.get("errors"):
            first = body["errors"][0]
            return str(first.get("detail") or first.get("title") or "")
        if isinstance(body.get("error"), dict):
            return str(body["error"].get("message") or body["error"].get("title") or "")
    return f"HTTP {response.status_code}"


class Api:
    """One user's view of the API for the length of one page request."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        headers = {"OpenStack-API-Version": VERSION, "Accept": "application/json",
                   "User-Agent": "magna-dashboard"}
        if token:
            headers["X-Auth-Token"] = token
        # NOTE: an API 500 comes back as its response (the API's own error body), not as the
        # exception behind it, so the page shows it like any other refusal.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._http = httpx.AsyncClient(transport=transport,
                                       base_url=BASE_URL, headers=headers, timeout=120)

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def call(self, method: str, path: str, *, body: Any = None,
                   params: dict[str, Any] | None = None) -> Any:
        """The decoded body of a 2xx answer (None when empty); ``ApiError`` otherwise."""
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        response = await self._http.request(method, path, json=body, params=query)
        if response.status_code >= 400:
            raise ApiError(response.status_code, message_of(response))
        if not response.content:
            return None
        return response.json()

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Any) -> Any:
        return await self.call("POST", path, body=body)

    async def patch(self, path: str, operations: list[dict[str, Any]]) -> Any:
        return await self.call("PATCH", path, body=operations)

    async def delete(self, path: str) -> Any:
        return await self.call("DELETE", path)

    async def every(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated list (following ``next`` markers)."""
        items: list[dict[str, Any]] = []
        marker = None
        while True:
            page = await self.get(path, marker=marker, **params)
            batch = page.get(key, [])
            items.extend(batch)
            if not page.get("next") or not batch:
                return items
            marker = batch[-1].get("uuid") or batch[-1].get("id")
