"""The one place errors become HTTP responses, in Magnum's shapes.

Every non-2xx answer of the v1 API is ``{"errors": [{"request_id", "code", "status", "title",
"detail", "links"}]}``; the title is the message up to its first period, as upstream. Two
exceptions keep their own shapes because clients parse them: the out-of-range microversion 406
and Keystone's 401. The compute and image APIs' paths (``foreign.py``) answer in Nova's and
Glance's shapes instead, which their clients print.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from magna.api import foreign
from magna.common.exceptions import MagnaError, NotAuthenticated, UnsupportedMicroversion

LOG = logging.getLogger(__name__)


_SENTENCE_END = re.compile(r"\.(?:\s|$)")


def title_of(message: str) -> str:
    """The first sentence of the message (upstream cuts at the first period; cutting at a
    sentence end keeps versions and file names such as "1.7" or "a.pem" intact)."""
    return _SENTENCE_END.split(message, maxsplit=1)[0] if message else ""


def body_for(exc: MagnaError, path: str = "") -> dict[str, Any]:
    """The error body for a request to ``path`` (Magnum's API when not given)."""
    api = foreign.api_of(path)
    if api is not None and not isinstance(exc, NotAuthenticated):
        return foreign.error_body(api, exc.status, exc.message)
    if isinstance(exc, UnsupportedMicroversion):
        return {"errors": [{
            "max_version": exc.max_version, "min_version": exc.min_version,
            "code": "magnum.microversion-unsupported",
            "links": [{"rel": "help",
                       "href": "http://docs.openstack.org/api-guide/compute/microversions.html"}],
            "title": "Requested microversion is unsupported"}]}
    if isinstance(exc, NotAuthenticated):
        return {"error": {"code": 401, "title": "Unauthorized", "message": exc.message}}
    return error_body(exc.status, exc.message, exc.code)


def error_body(status: int, message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"request_id": "", "code": code, "status": status,
                        "title": title_of(message), "detail": message, "links": []}]}


def encode(exc: MagnaError, path: str = "") -> bytes:
    return json.dumps(body_for(exc, path)).encode()


def unexpected(exc: BaseException) -> MagnaError:
    """Log an unexpected exception with its traceback; give the user a generic 500."""
    LOG.error("Unexpected error while serving a request", exc_info=exc)
    return MagnaError("An unexpected error prevented the server from fulfilling your request.")
