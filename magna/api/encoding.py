"""JSON responses encoded once, by the serializer FastAPI itself would use.

A handler that returns a dict makes FastAPI validate it against the return annotation (for a
plain ``def`` handler, in a second trip through the thread pool) and then encode it with
pydantic. For read-heavy endpoints the handler returns ``json_response(body)`` instead: the
same encoder (``pydantic_core.to_json``), hence the same bytes, without the validation pass.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from starlette.responses import Response


def json_response(body: Any, status_code: int = 200) -> Response:
    return Response(content=to_json(body), status_code=status_code,
                    media_type="application/json")
