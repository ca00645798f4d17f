"""What a handler needs from the request: the services, the caller, the microversion, links."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from magna.api.microversion import MIN_VERSION, Version
from magna.common.context import RequestContext
from magna.common.exceptions import NotAuthenticated
from magna.services import Services

_BASE_URL = "magna.base_url"


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def context(request: Request) -> RequestContext:
    ctx: RequestContext | None = getattr(request.state, "context", None)
    if ctx is None:
        raise NotAuthenticated("The request you have made requires authentication.")
    return ctx


def version(request: Request) -> Version:
    found: Version = getattr(request.state, "version", MIN_VERSION)
    return found


def base_url(request: Request) -> str:
    """The endpoint links start with; worked out once per request (a page links every row)."""
    cached: str | None = request.scope.get(_BASE_URL)
    if cached is None:
        configured = services(request).conf.api.public_endpoint
        if configured:
            cached = str(configured).rstrip("/")
        else:
            cached = f"{request.url.scheme}://{request.url.netloc}"
        request.scope[_BASE_URL] = cached
    return cached


def links(request: Request, collection: str, ident: str) -> list[dict[str, Any]]:
    return links_at(base_url(request), collection, ident)


def links_at(base: str, collection: str, ident: str) -> list[dict[str, Any]]:
    """A resource's self and bookmark links under ``base`` (see ``base_url``)."""
    return [{"href": f"{base}/v1/{collection}/{ident}", "rel": "self"},
            {"href": f"{base}/{collection}/{ident}", "rel": "bookmark"}]


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# Calls that wait on a cluster's engines at most this many at a time per worker, beside the
# worker's ``[api] worker_threads``: a long exec must not hold a thread database work needs.
ENGINE_CALLS = 16


async def call(request: Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking service function in the thread pool from an async handler."""
    return await run_in_threadpool(fn, services(request), context(request), *args, **kwargs)


async def call_engines(request: Request, fn: Callable[..., Any], *args: Any,
                       **kwargs: Any) -> Any:
    """``call`` for a service function that waits on a cluster's engines (exec, logs): on
    the threads kept for those (``app.state.engine_calls``, made when the app starts)."""
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "engine_calls", None)
    work = functools.partial(fn, services(request), context(request), *args, **kwargs)
    return await anyio.to_thread.run_sync(work, limiter=limiter)
