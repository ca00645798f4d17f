"""Pure ASGI middleware that runs before any handler, outermost first:

1. ``NormalizePath``: trailing slashes are dropped and unversioned paths go to ``/v1`` (clients
   send both; upstream Magnum routes them the same way), except the compute and image APIs'
   paths (``foreign.py``).
2. ``RequestId``: every response carries ``X-OpenStack-Request-Id``.
3. ``ComputeMicroversion``: negotiates Nova's microversion for the compute API's paths and
   names it on every answer there, errors (413 and 401 included) too.
4. ``BodyLimit``: bodies over ``[api] max_request_body_size`` get 413 before they are read.
5. ``Microversion``: negotiates ``OpenStack-API-Version`` for ``/v1`` paths and echoes it.
6. ``Authenticate``: builds the ``RequestContext`` (noauth or Keystone) for non-public paths
   (the version documents of every API are public).

Between 1 and 2, ``api/metrics.RequestMetrics`` counts and times every request by route
template and status (docs/metrics.md).

Each stores what it learned in ``scope["state"]`` where handlers read it via ``request.state``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from magna.api import errors, foreign, microversion, nova_microversion
from magna.common.context import RequestContext
from magna.common.exceptions import MagnaError, NotAuthenticated, PayloadTooLarge

PUBLIC_PATHS = {"/", "/v1", "/healthcheck", "/v1/openapi.json", "/v1/reference",
                *foreign.PUBLIC_PATHS}


async def send_error(send: Send, exc: MagnaError,
                     headers: Iterable[tuple[bytes, bytes]] = (), path: str = "") -> None:
    body = errors.encode(exc, path)
    await send({"type": "http.response.start", "status": exc.status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        *headers]})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", []), *headers]
        await send(message)
    return wrapped


def normalize(path: str) -> str:
    if path.endswith(".json") and path.rstrip("/") in ("/.json", "/v1.json"):
        path = path[:-5] or "/"
    stripped = path.rstrip("/") or "/"
    if stripped == "/" or stripped == "/healthcheck" or foreign.api_of(stripped):
        return stripped
    if stripped.split("/")[1] != "v1":
        stripped = "/v1" + stripped
    return stripped


class NormalizePath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = normalize(scope["path"])
            scope = dict(scope, path=path, raw_path=path.encode())
        await self.app(scope, receive, send)


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        scope.setdefault("state", {})["request_id"] = request_id
        header = [(b"x-openstack-request-id", request_id.encode())]
        await self.app(scope, receive, _with_headers(send, header))


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        too_large = PayloadTooLarge(
            f"Request is too large. The body may be at most {self.max_bytes} bytes.")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await send_error(send, too_large, path=scope["path"])
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise too_large
            return message

        await self.app(scope, limited_receive, send)


class Microversion:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(microversion.HEADER.encode())
        try:
            version = microversion.negotiate(header.decode("latin-1") if header else None,
                                             scope["path"])
        except MagnaError as exc:
            bounds = microversion.response_headers(microversion.MIN_VERSION)[:2]
            await send_error(send, exc, bounds)
            return
        scope.setdefault("state", {})["version"] = version
        await self.app(scope, receive,
                       _with_headers(send, microversion.response_headers(version)))


class ComputeMicroversion:
    """Nova's microversion for ``/compute`` paths (``nova_microversion.py``), negotiated before
    anything else can refuse the request, so that every answer names it as Nova's do."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or foreign.api_of(scope["path"]) != foreign.COMPUTE:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        try:
            version = nova_microversion.negotiate(nova_microversion.requested(headers))
        except MagnaError as exc:
            # NOTE: a version that cannot be served is refused at the one a request without
            # any gets (2.1): the refusal's shape is the same at every version.
            await send_error(send, exc, _compute_headers(nova_microversion.MIN_VERSION),
                             path=scope["path"])
            return
        scope.setdefault("state", {})["compute_version"] = version
        await self.app(scope, receive, _with_headers(send, _compute_headers(version)))


def _compute_headers(version: microversion.Version) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode())
            for name, value in nova_microversion.response_headers(version).items()]


class Authenticator(Protocol):
    """Turns request headers into a context, or raises ``NotAuthenticated``."""

    async def authenticate(self, headers: dict[str, str]) -> RequestContext: ...

    def challenge_headers(self) -> list[tuple[bytes, bytes]]: ...

    async def aclose(self) -> None: ...


class Authenticate:
    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        state: dict[str, Any] = scope.setdefault("state", {})
        try:
            context = await self.authenticator.authenticate(headers)
        except NotAuthenticated as exc:
            await send_error(send, exc, self.authenticator.challenge_headers())
            return
        except MagnaError as exc:
            await send_error(send, exc, path=scope["path"])
            return
        state["context"] = RequestContext(**{**context.__dict__,
                                             "request_id": state.get("request_id", "")})
        await self.app(scope, receive, send)
