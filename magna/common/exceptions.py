"""The one error taxonomy of Magna.

Every layer raises these; only ``magna.api.errors`` turns them into HTTP responses, and the
conductor (later) maps them to requeue-or-fail decisions. A message is user-facing text: it ends up
in Magnum's ``{"errors": [...]}`` body or in a cluster's ``status_reason``, so it must never carry a
traceback or internal detail.
"""

from __future__ import annotations


class MagnaError(Exception):
    """Base class. ``status`` is the HTTP status the API answers with."""

    status = 500
    code = "server"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(MagnaError):
    """The request is well-formed but its content is not acceptable (HTTP 400)."""

    status = 400
    code = "client"


class NotAuthenticated(MagnaError):
    """No or bad credentials (HTTP 401, rendered in Keystone's error shape)."""

    status = 401
    code = "client"


class NotAuthorized(MagnaError):
    """The caller is known but the policy forbids the action (HTTP 403)."""

    status = 403
    code = "client"


class NotFound(MagnaError):
    """The named resource does not exist or is not visible to the caller (HTTP 404)."""

    status = 404
    code = "client"


class MethodNotAllowed(MagnaError):
    """The path exists, the method does not (HTTP 405)."""

    status = 405
    code = ""


class NotAcceptable(MagnaError):
    """The requested microversion cannot serve this request (HTTP 406)."""

    status = 406
    code = ""


class Conflict(MagnaError):
    """The request contradicts the current state, e.g. an ambiguous name (HTTP 409)."""

    status = 409
    code = "client"


class PayloadTooLarge(MagnaError):
    """The request body is larger than ``[api] max_request_body_size`` (HTTP 413)."""

    status = 413
    code = "client"


class TemporaryFailure(MagnaError):
    """A dependency is briefly unavailable; retrying later may succeed (HTTP 503)."""

    status = 503
    code = "server"


class UnsupportedMicroversion(NotAcceptable):
    """A well-formed microversion outside the supported range (406 with its own body shape)."""

    def __init__(self, min_version: str, max_version: str) -> None:
        super().__init__("Requested microversion is unsupported")
        self.min_version = min_version
        self.max_version = max_version


class TemporaryError(MagnaError):
    """Conductor: the work cannot finish yet (still converging, a dependency is busy).

    The cluster stays ``*_IN_PROGRESS`` and is reconciled again after ``delay`` seconds.
    """

    def __init__(self, message: str, delay: float = 2.0) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(MagnaError):
    """Conductor: the work failed in a way retrying will not fix without a change by the user.

    The cluster goes to ``*_FAILED`` with the message as ``status_reason``.
    """
