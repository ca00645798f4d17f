"""Builds the ASGI application: services, routers, error handlers and the middleware stack."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from oslo_config import cfg
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from magna.api import deps, errors, foreign, middleware
from magna.api.metrics import RequestMetrics
from magna.api.noauth import NoAuth
from magna.api.resources import ROUTERS
from magna.common.exceptions import Invalid, MagnaError, MethodNotAllowed, NotFound
from magna.dashboard.app import with_dashboard
from magna.services import Services

LOG = logging.getLogger(__name__)


def _authenticator(svc: Services) -> middleware.Authenticator:
    if svc.conf.api.auth_strategy == "keystone":
        from magna.api.keystone import KeystoneAuth

        return KeystoneAuth(svc.conf, svc.authz)
    return NoAuth(svc.authz)


def create_app(conf: cfg.ConfigOpts, svc: Services) -> ASGIApp:
    """The API on ``svc`` (``magna.cmd.compose`` builds them; the app closes them)."""
    authenticator = _authenticator(svc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # NOTE: the thread pool is the event loop's own, so this is set once it runs.
        anyio.to_thread.current_default_thread_limiter().total_tokens = conf.api.worker_threads
        app.state.engine_calls = anyio.CapacityLimiter(deps.ENGINE_CALLS)
        yield
        await authenticator.aclose()
        svc.close()

    app = FastAPI(title="Magna (OpenStack Magnum v1 API)", openapi_url=None,
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.services = svc
    for router in ROUTERS:
        app.include_router(router)
    for path, methods in literal_shadows().items():
        app.router.routes.insert(0, APIRoute(path, _refuse, methods=sorted(methods),
                                             include_in_schema=False))
    _install_error_handlers(app)
    stack: ASGIApp = middleware.Authenticate(app, authenticator)
    stack = middleware.Microversion(stack)
    stack = middleware.BodyLimit(stack, conf.api.max_request_body_size)
    stack = middleware.ComputeMicroversion(stack)
    stack = middleware.RequestId(stack)
    # NOTE: the resource routers' own routes: FastAPI keeps included routers as wrappers
    # whose matching is not public, and a request refused before routing is matched here.
    stack = RequestMetrics(stack, [route for router in ROUTERS for route in router.routes])
    return with_dashboard(middleware.NormalizePath(stack), conf)


def _respond(request: Request, exc: MagnaError,
             headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(errors.body_for(exc, request.url.path), status_code=exc.status,
                        headers=headers)


def _routes() -> list[APIRoute]:
    """The routes a 405's ``Allow`` may name: those of the document, and the compute and image
    APIs' (which it leaves out); not the catch-alls hidden from it (``unknown_action``)."""
    return [route for router in ROUTERS for route in router.routes
            if isinstance(route, APIRoute)
            and (route.include_in_schema or foreign.api_of(route.path) is not None)]


def allowed_methods(path: str) -> str:
    """The methods some route answers at ``path``, for a 405's ``Allow`` header: those of the
    routes written for exactly this path when there are some (``/v1/clusters/detail``), else
    those of every route whose template matches it (``/v1/clusters/{ident}``).

    NOTE: Starlette's own 405 names only the methods of the first route that matched the path,
    and FastAPI makes one route per method, so the union is taken here over all of them.
    """
    matching = [route for route in _routes() if route.path_regex.match(path)]
    exact = [route for route in matching if route.path == path]
    return ", ".join(sorted({method for route in exact or matching
                             for method in route.methods or ()}))


def literal_shadows() -> dict[str, set[str]]:
    """The literal paths that a templated route matches too (``/v1/clusters/detail`` and
    ``/v1/clusters/{ident}``), each with the methods only the templated routes have.

    Those methods are refused there (405): ``DELETE /v1/clusters/detail`` deleted a cluster
    named "detail" (one ``GET`` could never show), and the document, which lists only
    ``GET`` at that path, did not say so.
    """
    routes = _routes()
    found: dict[str, set[str]] = {}
    for path in {route.path for route in routes if "{" not in route.path}:
        own = {m for route in routes if route.path == path for m in route.methods or ()}
        others = {m for route in routes if "{" in route.path and route.path_regex.match(path)
                  for m in route.methods or ()}
        if others - own:
            found[path] = others - own
    return found


def _refuse() -> None:
    raise MethodNotAllowed("The method is not allowed for this resource.")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MagnaError)
    async def magna_error(request: Request, exc: MagnaError) -> JSONResponse:
        if isinstance(exc, MethodNotAllowed):
            return _respond(request, exc, {"Allow": allowed_methods(request.url.path)})
        return _respond(request, exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _respond(request, _route_not_found(request.url.path))
        if exc.status_code == 405:
            return _respond(request,
                            MethodNotAllowed("The method is not allowed for this resource."),
                            {"Allow": allowed_methods(request.url.path)})
        error = MagnaError(str(exc.detail))
        error.status = exc.status_code
        error.code = "client" if exc.status_code < 500 else "server"
        return _respond(request, error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", ())[1:])
        return _respond(request, Invalid(f"Invalid input for field/attribute {loc}. "
                                         f"{first.get('msg', '')}"))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _respond(request, errors.unexpected(exc))


def _route_not_found(path: str) -> MagnaError:
    api = foreign.api_of(path)
    exc = NotFound(foreign.route_missing(api) if api else "The resource could not be found.")
    exc.code = ""
    return exc
