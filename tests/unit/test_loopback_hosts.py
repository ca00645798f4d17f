"""noauth's Host check (``magna.api.loopback``): which names pass, and what a refusal is."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from magna.api import loopback


@pytest.mark.parametrize(("header", "name"), [
    ("127.0.0.1:9511", "127.0.0.1"), ("LOCALHOST", "localhost"), ("[::1]:9511", "::1"),
    ("attacker.example:9511", "attacker.example"), ("::1", "::1"), ("[::1]", "::1")])
def test_host_name_drops_the_port_and_brackets(header: str, name: str) -> None:
    assert loopback.host_name(header) == name


@pytest.mark.parametrize(("name", "loop"), [
    ("localhost", True), ("api.localhost", True), ("127.0.0.1", True), ("127.8.9.10", True),
    ("::1", True), ("10.0.0.1", False), ("attacker.example", False),
    ("localhost.attacker.example", False), ("0.0.0.0", False), ("", False)])
def test_loopback_names(name: str, loop: bool) -> None:
    assert loopback.is_loopback_name(name) is loop


def test_the_configured_name_is_the_public_endpoints_host() -> None:
    assert loopback.configured_names("https://Magna.Example.com:9511/") == {
        "magna.example.com"}
    assert loopback.configured_names(None) == set()
    assert loopback.configured_names("") == set()


def _call(app: loopback.LoopbackHostOnly, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _scope(kind: str, host: bytes | None) -> dict[str, Any]:
    headers = [] if host is None else [(b"host", host)]
    return {"type": kind, "path": "/v1/clusters", "headers": headers}


@pytest.mark.parametrize("host", [b"127.0.0.1:9511", b"localhost:9511", b"[::1]:9511",
                                  b"magna.example.com", None])
def test_loopback_and_configured_names_reach_the_app(host: bytes | None) -> None:
    app = loopback.LoopbackHostOnly(_inner, also={"magna.example.com"})
    assert _call(app, _scope("http", host))[0]["status"] == 204


def test_another_name_gets_400_in_magnums_shape_and_never_reaches_the_app() -> None:
    app = loopback.LoopbackHostOnly(_inner)
    start, body = _call(app, _scope("http", b"attacker.example:9511"))
    assert start["status"] == 400
    error = json.loads(body["body"])["errors"][0]
    assert error["status"] == 400 and "'attacker.example:9511'" in error["detail"]
    assert "auth_strategy=noauth" in error["detail"]


def test_a_websocket_from_another_name_is_closed_before_it_is_accepted() -> None:
    app = loopback.LoopbackHostOnly(_inner)
    assert _call(app, _scope("websocket", b"attacker.example")) == [
        {"type": "websocket.close", "code": loopback.POLICY_VIOLATION}]
