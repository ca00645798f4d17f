"""``keystone``: validate ``X-Auth-Token`` against Keystone's v3 API and build the context.

Upstream Magnum runs keystonemiddleware's ``auth_token`` in its paste pipeline. That middleware
is WSGI-only and does blocking I/O, so it cannot wrap an ASGI app without stalling the event
loop. This module does the same job with ``httpx.AsyncClient``:

1. The service user (``[keystone_authtoken]`` username/password, project-scoped) gets a token of
   its own, kept until shortly before it expires and fetched again once when Keystone says 401.
2. ``GET /v3/auth/tokens`` with ``X-Auth-Token: <service token>`` and
   ``X-Subject-Token: <user token>`` returns the user's token body (or 404 when it is invalid).
3. The body becomes a ``RequestContext``; the policy decides ``is_admin``.

Successful validations are cached in memory, keyed by a SHA-256 of the token, for
``token_cache_time`` seconds at most and never past the token's own expiry. Failures are not
cached, so a token that becomes valid (or a Keystone that comes back) is honoured at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cachetools import TTLCache
from oslo_config import cfg

from magna.common.context import RequestContext
from magna.common.exceptions import NotAuthenticated, TemporaryFailure
from magna.policy.enforcer import Authorizer

LOG = logging.getLogger(__name__)

UNAUTHENTICATED = "The request you have made requires authentication."
UNAVAILABLE = "The identity service is unavailable. Please try again later."
# NOTE: a service token this close to its expiry is replaced before use, so a validation
# request never races the service token's own expiry.
SERVICE_TOKEN_MARGIN = timedelta(seconds=60)
TIMEOUT = httpx.Timeout(10.0)


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


@dataclass(frozen=True)
class _CachedContext:
    context: RequestContext
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cache_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def context_from_token(body: dict[str, Any], token: str) -> RequestContext:
    """Turn a Keystone v3 token body (``{"token": {...}}``) into a context (``is_admin`` unset)."""
    data = body["token"]
    user = data.get("user", {})
    project = data.get("project") or {}
    system = data.get("system") or {}
    return RequestContext(
        user_id=user.get("id"), user_name=user.get("name"),
        user_domain_id=(user.get("domain") or {}).get("id"),
        project_id=project.get("id"), project_name=project.get("name"),
        project_domain_id=(project.get("domain") or {}).get("id"),
        roles=tuple(role["name"] for role in data.get("roles", [])),
        auth_token=token,
        system_scope="all" if system.get("all") else None)


class KeystoneAuth:
    """The ``keystone`` authenticator of ``magna.api.middleware.Authenticate``."""

    def __init__(self, conf: cfg.ConfigOpts, authorizer: Authorizer) -> None:
        self._opts = conf.keystone_authtoken
        if not self._opts.auth_url:
            raise ValueError("[keystone_authtoken] auth_url is required with "
                             "[api] auth_strategy = keystone")
        self._auth_url = str(self._opts.auth_url).rstrip("/")
        self._authorizer = authorizer
        self._service_token: _Token | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._http: httpx.AsyncClient | None = None
        cache_time = int(self._opts.token_cache_time)
        self.cache: TTLCache[str, _CachedContext] | None = (
            TTLCache(maxsize=self._opts.token_cache_size, ttl=cache_time)
            if cache_time > 0 else None)

    async def authenticate(self, headers: dict[str, str]) -> RequestContext:
        token = headers.get("x-auth-token", "").strip()
        # NOTE: Keystone tokens are printable ASCII; anything else could not even be sent on.
        if not token or not (token.isascii() and token.isprintable()):
            raise NotAuthenticated(UNAUTHENTICATED)
        cached = self._cached(token)
        if cached is not None:
            return cached
        body = await self._validate(token)
        context = context_from_token(body, token)
        context = replace(context, is_admin=self._authorizer.is_admin(context))
        self._remember(token, context, _parse_time(body["token"]["expires_at"]))
        return context

    async def aclose(self) -> None:
        """Close the pooled HTTP connections to Keystone (at application shutdown)."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def challenge_headers(self) -> list[tuple[bytes, bytes]]:
        uri = self._opts.www_authenticate_uri or self._auth_url
        return [(b"www-authenticate", f'Keystone uri="{uri}"'.encode())]

    # -- cache ---------------------------------------------------------------------------------

    def _cached(self, token: str) -> RequestContext | None:
        if self.cache is None:
            return None
        entry = self.cache.get(_cache_key(token))
        if entry is None:
            return None
        if entry.expires_at <= _now():
            # NOTE: TTLCache has one TTL for all entries; a token that expires before it is
            # dropped here, which makes the effective TTL min(token_cache_time, expiry).
            self.cache.pop(_cache_key(token), None)
            return None
        return entry.context

    def _remember(self, token: str, context: RequestContext, expires_at: datetime) -> None:
        if self.cache is not None and expires_at > _now():
            self.cache[_cache_key(token)] = _CachedContext(context, expires_at)

    # -- Keystone calls ------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        # NOTE: an AsyncClient's connection pool belongs to the event loop it was first used in.
        # uvicorn runs one loop per worker, so this builds one client; test clients that start a
        # fresh loop per request get a fresh client instead of a pool bound to a dead loop.
        loop = asyncio.get_running_loop()
        if self._http is None or self._client_loop is not loop:
            self._http = httpx.AsyncClient(timeout=TIMEOUT)
            self._client_loop = loop
        return self._http

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._send(method, self._auth_url + path, **kwargs)
        except httpx.HTTPError as exc:
            LOG.warning("Keystone at %s is unreachable: %r", self._auth_url, exc)
            raise TemporaryFailure(UNAVAILABLE) from exc
        if response.status_code >= 500:
            LOG.warning("Keystone answered %s to %s %s", response.status_code, method, path)
            raise TemporaryFailure(UNAVAILABLE)
        return response

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # NOTE: a server may close an idle keep-alive connection just as it is reused; one retry
        # on a transport error (never on a timeout) covers that race without hiding an outage.
        try:
            return await self._client().request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise
        except httpx.TransportError:
            return await self._client().request(method, url, **kwargs)

    async def _validate(self, token: str) -> dict[str, Any]:
        response = await self._validate_once(token, await self._get_service_token())
        if response.status_code == 401:
            self._service_token = None
            response = await self._validate_once(token, await self._get_service_token())
        if response.status_code in (400, 404):
            raise NotAuthenticated(UNAUTHENTICATED)
        if response.status_code != 200:
            LOG.error("Keystone refused to validate a token for the service user (HTTP %s); "
                      "check [keystone_authtoken] and the user's roles", response.status_code)
            raise TemporaryFailure(UNAVAILABLE)
        body: dict[str, Any] = response.json()
        return body

    async def _validate_once(self, token: str, service_token: str) -> httpx.Response:
        headers = {"X-Auth-Token": service_token, "X-Subject-Token": token}
        return await self._request("GET", "/auth/tokens", headers=headers,
                                   params={"nocatalog": "1"})

    async def _get_service_token(self) -> str:
        # NOTE: no lock: concurrent first requests may each fetch a service token; the last one
        # wins and the others are simply unused. Cheaper than serialising every miss.
        current = self._service_token
        if current is not None and current.expires_at - SERVICE_TOKEN_MARGIN > _now():
            return current.value
        response = await self._request("POST", "/auth/tokens", json=self._password_auth(),
                                       params={"nocatalog": "1"})
        if response.status_code != 201 or "x-subject-token" not in response.headers:
            LOG.error("The service user %s could not authenticate to Keystone (HTTP %s)",
                      self._opts.username, response.status_code)
            raise TemporaryFailure(UNAVAILABLE)
        expires_at = _parse_time(response.json()["token"]["expires_at"])
        self._service_token = _Token(response.headers["x-subject-token"], expires_at)
        return self._service_token.value

    def _password_auth(self) -> dict[str, Any]:
        opts = self._opts
        user = {"name": opts.username, "password": opts.password,
                "domain": {"name": opts.user_domain_name}}
        project = {"name": opts.project_name, "domain": {"name": opts.project_domain_name}}
        return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}},
                         "scope": {"project": project}}}
