"""The SDK's one exception family: every failure a caller can see is a ``ClientError``.

HTTP failures carry the server's own message, taken from whichever of the error shapes Magnum
servers answer with (``{"errors": [...]}``, WSME's ``error_message``, Keystone's ``{"error"}``).
``exit_code`` is what the ``magna`` command line exits with (docs/cli.md lists them).
"""

from __future__ import annotations

import json
from typing import Any


class ClientError(Exception):
    """Base of every SDK error."""

    exit_code = 1

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Unreachable(ClientError):
    """No HTTP answer at all: refused, timed out, bad address."""

    exit_code = 5


class HTTPError(ClientError):
    """The server answered with a 4xx or 5xx."""


class BadRequest(HTTPError):
    pass


class Unauthorized(HTTPError):
    pass


class Forbidden(HTTPError):
    pass


class NotFound(HTTPError):
    pass


class Conflict(HTTPError):
    pass


class ServerError(HTTPError):
    pass


class OperationFailed(ClientError):
    """A cluster operation ended in ``*_FAILED`` while we waited for it."""

    exit_code = 3


class WaitTimeout(ClientError):
    """A cluster did not reach the state we waited for in time."""

    exit_code = 4


_BY_STATUS: dict[int, type[HTTPError]] = {400: BadRequest, 401: Unauthorized, 403: Forbidden,
                                          404: NotFound, 409: Conflict}


def from_response(status: int, body: bytes) -> HTTPError:
    """The exception for an error response, with the server's message."""
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else HTTPError)
    return cls(f"{server_message(body) or 'HTTP error'} (HTTP {status})", status=status)


def server_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:200]
    return _message_of(data) if isinstance(data, dict) else ""


def _message_of(data: dict[str, Any]) -> str:
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("detail") or first.get("title") or "")
    if isinstance(data.get("error_message"), str):
        return _wsme_message(data["error_message"])
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("title") or "")
    return ""


def _wsme_message(text: str) -> str:
    try:
        inner = json.loads(text)
    except ValueError:
        return text
    return str(inner.get("faultstring", text)) if isinstance(inner, dict) else text
