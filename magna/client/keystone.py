"""A Keystone v3 password login, for using the SDK against a server with ``auth_strategy =
keystone`` without a ready token.

One ``POST /v3/auth/tokens`` with the ``OS_*`` variables the OpenStack clients use; the token
comes back in ``X-Subject-Token`` and the catalog names the ``container-infra`` endpoint. No
refresh: a command line call lives far shorter than a token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from magna.client import errors


def wanted(env: Mapping[str, str]) -> bool:
    return bool(env.get("OS_AUTH_URL") and env.get("OS_USERNAME") and env.get("OS_PASSWORD"))


def login(env: Mapping[str, str], *, timeout: float) -> tuple[str, str | None]:
    """(token, the public ``container-infra`` endpoint or None)."""
    url = env["OS_AUTH_URL"].rstrip("/")
    url = url if url.endswith("/v3") else url + "/v3"
    try:
        response = httpx.post(f"{url}/auth/tokens", json=_body(env), timeout=timeout)
    except httpx.HTTPError as exc:
        raise errors.Unreachable(f"Keystone at {url} is unreachable: {exc}") from None
    if response.status_code >= 400:
        raise errors.from_response(response.status_code, response.content)
    token = response.headers.get("X-Subject-Token", "")
    return token, _endpoint(response.json().get("token", {}).get("catalog", []))


def _body(env: Mapping[str, str]) -> dict[str, Any]:
    user_domain = env.get("OS_USER_DOMAIN_NAME") or "Default"
    project_domain = env.get("OS_PROJECT_DOMAIN_NAME") or "Default"
    body: dict[str, Any] = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": env["OS_USERNAME"], "password": env["OS_PASSWORD"],
                 "domain": {"name": user_domain}}}}}}
    if env.get("OS_PROJECT_NAME"):
        body["auth"]["scope"] = {"project": {"name": env["OS_PROJECT_NAME"],
                                             "domain": {"name": project_domain}}}
    return body


def _endpoint(catalog: list[dict[str, Any]]) -> str | None:
    for service in catalog:
        if service.get("type") == "container-infra":
            for endpoint in service.get("endpoints", []):
                if endpoint.get("interface") == "public":
                    return str(endpoint["url"])
    return None
