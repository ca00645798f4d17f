"""Keystone password login for the dashboard: user, password, project, domain -> a token.

The token is project-scoped, as the API needs; the API itself validates it on every call, so
this module only obtains it (and revokes it at logout).
"""

from __future__ import annotations

from typing import Any

import httpx

from magna.dashboard.session import Session

TIMEOUT = httpx.Timeout(10.0)
WRONG = "The user name, password, project or domain is wrong."
UNAVAILABLE = "The identity service is unavailable. Please try again later."


class LoginFailed(Exception):
    pass


def _body(user: str, password: str, project: str, domain: str) -> dict[str, Any]:
    return {"auth": {
        "identity": {"methods": ["password"], "password": {
            "user": {"name": user, "domain": {"name": domain}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": domain}}}}}


async def login(auth_url: str, user: str, password: str, project: str, domain: str,
                csrf: str) -> Session:
    url = f"{auth_url.rstrip('/')}/auth/tokens"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            response = await http.post(url, json=_body(user, password, project, domain))
    except httpx.HTTPError:
        raise LoginFailed(UNAVAILABLE) from None
    if response.status_code in (400, 401, 403, 404):
        raise LoginFailed(WRONG)
    if response.status_code != 201:
        raise LoginFailed(UNAVAILABLE)
    token = response.json()["token"]
    return Session(csrf=csrf, token=response.headers["X-Subject-Token"],
                   user=token["user"]["name"], project=token["project"]["name"],
                   project_id=token["project"]["id"],
                   domain=domain, roles=sorted(r["name"] for r in token.get("roles", [])),
                   expires_at=token.get("expires_at"))


async def revoke(auth_url: str, token: str) -> None:
    """Best effort: the cookie is cleared whatever Keystone answers."""
    url = f"{auth_url.rstrip('/')}/auth/tokens"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as http:
            await http.delete(url, headers={"X-Auth-Token": token, "X-Subject-Token": token})
    except httpx.HTTPError:
        return
