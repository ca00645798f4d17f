"""Counts and times every API request by method, route template and status.

The outermost middleware but for ``NormalizePath`` (so it sees the path routes match), it
starts a clock, notes the status of ``http.response.start`` and records when the response is
done (or failed: 500). The route label is the template Starlette matched (it leaves it in
``scope["route"]``); a request refused before routing (401, 406, 413) is matched against the
routes here, and one that matches none is ``unmatched``: a raw path never becomes a label value.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from magna.metrics import series


class RequestMetrics:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            series.record_request(method=scope["method"], route=self._route(scope),
                                  status=status, seconds=time.perf_counter() - started)

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            route = next((r for r in self.routes if r.matches(scope)[0] != Match.NONE), None)
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else series.UNMATCHED
