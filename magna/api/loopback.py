"""With ``auth_strategy = noauth`` the served API answers loopback host names only.

noauth makes every caller without identity headers an administrator, and ``magna.cmd.api``
binds it to loopback only. That keeps other machines out, but not a web page the user opens:
by DNS rebinding its own name (``attacker.example``) resolves to 127.0.0.1, and the browser
then sends the page's requests, same-origin for it, to this API with ``Host:
attacker.example``, and lets the page read the answers: it could create clusters and have
certificates signed. A request naming any other host gets 400 in Magnum's error shape (a
websocket is closed before it is accepted). Requests without a Host header (HTTP/1.0 tools)
pass: every browser sends one.

Loopback names: ``localhost`` and its subdomains (RFC 6761; browsers resolve them to loopback
themselves), IPv4 addresses in 127.0.0.0/8 and ``[::1]`` (``[api] host`` is one of them under
noauth, ``magna.cmd.api.check_bind``), and the host of ``[api] public_endpoint`` when an
operator names one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from magna.api.middleware import send_error
from magna.common.exceptions import Invalid

POLICY_VIOLATION = 1008  # the websocket close code for a refused request


def host_name(header: str) -> str:
    """The name in a Host header, without its port and brackets, lower-cased."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def is_loopback_name(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def configured_names(public_endpoint: str | None) -> set[str]:
    """The name besides loopback ones that the operator gave the API, if any."""
    name = (urlsplit(public_endpoint).hostname or "").lower() if public_endpoint else ""
    return {name} if name else set()


class LoopbackHostOnly:
    def __init__(self, app: ASGIApp, also: Iterable[str] = ()) -> None:
        self.app = app
        self.also = set(also)

    def accepts(self, header: str | None) -> bool:
        if header is None:
            return True
        name = host_name(header)
        return is_loopback_name(name) or name in self.also

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(b"host")
        header = None if raw is None else raw.decode("latin-1")
        if self.accepts(header):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        await send_error(send, Invalid(
            f"The Host header {header!r} is not accepted: with auth_strategy=noauth this API "
            f"answers only loopback names (localhost, 127.0.0.1, [::1]) and the host of "
            f"[api] public_endpoint, so that no web page can reach it through a name of its "
            f"own."), path=scope["path"])
