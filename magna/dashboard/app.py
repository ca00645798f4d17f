"""Builds the dashboard's ASGI app and puts it in front of the API at ``/dashboard``.

``with_dashboard(api, conf)`` answers ``/dashboard`` and below with the dashboard and passes
every other request to the API unchanged; the dashboard calls that same API in process.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from oslo_config import cfg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from magna.crypto.keystore import load_or_create_key
from magna.dashboard import login as keystone_login
from magna.dashboard.pages import ROUTES
from magna.dashboard.session import COOKIE, Session, SessionCodec
from magna.dashboard.web import PREFIX, load_session, read_form, set_session, templates

SESSION_KEY_FILE = "dashboard-session.key"
LOGIN_COOKIE = f"{COOKIE}_login"


def session_key(conf: cfg.ConfigOpts) -> bytes:
    path = conf.dashboard.session_key_file or str(Path(conf.state_dir) / SESSION_KEY_FILE)
    try:
        return load_or_create_key(path)
    except FileExistsError:
        # NOTE: another API worker created it between our check and our create.
        return Path(path).read_bytes().strip()


def _keystone_url(conf: cfg.ConfigOpts) -> str | None:
    if conf.api.auth_strategy != "keystone":
        return None
    return str(conf.keystone_authtoken.www_authenticate_uri
               or conf.keystone_authtoken.auth_url)


async def home(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/clusters", status_code=303)


def _safe_next(target: str) -> str:
    """Only a path of the dashboard itself (never another site) after logging in."""
    if target.startswith(f"{PREFIX}/") and not target.startswith("//"):
        return target
    return f"{PREFIX}/clusters"


async def login_page(request: Request) -> Response:
    url = request.app.state.keystone_url
    if url is None:
        return RedirectResponse(f"{PREFIX}/clusters", status_code=303)
    csrf = Session().csrf
    values = {"domain": "Default", "next": request.query_params.get("next", "")}
    error, status = None, 200
    if request.method == "POST":
        form = await read_form(request)
        values = {k: form.get(k) for k in ("user", "project", "domain", "next")}
        if not form.get("csrf") or form.get("csrf") != request.cookies.get(LOGIN_COOKIE):
            error, status = "The login form expired; please try again.", 403
        else:
            try:
                session = await keystone_login.login(
                    url, form.get("user"), form.get("password"), form.get("project"),
                    form.get("domain") or "Default", csrf=csrf)
            except keystone_login.LoginFailed as exc:
                error, status = str(exc), 401
            else:
                signed_in = RedirectResponse(_safe_next(values["next"]), status_code=303)
                set_session(request, signed_in, session)
                signed_in.delete_cookie(LOGIN_COOKIE, path=PREFIX)
                return signed_in
    html = request.app.state.templates.get_template("login.html").render(
        prefix=PREFIX, values=values, error=error, csrf=csrf, next=_safe_next(values["next"]))
    response = Response(html, status_code=status, media_type="text/html")
    # NOTE: before login there is no session to hold the CSRF secret, so the login form
    # has its own short-lived cookie (double submit).
    response.set_cookie(LOGIN_COOKIE, csrf, max_age=3600, path=PREFIX, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    session = load_session(request)
    form = await read_form(request)
    if session is not None and session.token and form.get("csrf") == session.csrf:
        await keystone_login.revoke(request.app.state.keystone_url, session.token)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


def create_dashboard(conf: cfg.ConfigOpts, api: ASGIApp) -> Starlette:
    static = resources.files("magna.dashboard") / "static"
    app = Starlette(routes=[Mount(PREFIX, routes=[
        Route("/", home),
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(static)), name="static"),
        *ROUTES,
    ])])
    app.state.api = api
    app.state.sessions = SessionCodec(session_key(conf))
    app.state.keystone_url = _keystone_url(conf)
    app.state.templates = templates()
    return app


class WithDashboard:
    """``/dashboard…`` to the dashboard, everything else to the API."""

    def __init__(self, api: ASGIApp, dashboard: ASGIApp) -> None:
        self.api = api
        self.dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(f"{PREFIX}/")):
            if path == PREFIX:
                scope = dict(scope, path=f"{PREFIX}/", raw_path=f"{PREFIX}/".encode())
            await self.dashboard(scope, receive, send)
            return
        await self.api(scope, receive, send)


def with_dashboard(api: ASGIApp, conf: cfg.ConfigOpts) -> ASGIApp:
    if not conf.dashboard.enabled:
        return api
    return WithDashboard(api, create_dashboard(conf, api))
