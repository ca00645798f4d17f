"""Request plumbing every page shares: session, CSRF, the user's API, rendering.

A page handler is ``async def handler(page: Page) -> Response`` wrapped by ``@page_handler``.
The wrapper finds the session (a login is required with Keystone), refuses a form whose CSRF
field or ``Origin`` does not match, opens the user's ``Api`` for the request, and turns an API
401 into the login page. Handlers never build sessions or clients themselves.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from magna.dashboard.apicall import Api, ApiError
from magna.dashboard.session import COOKIE, MAX_AGE_SECONDS, Session, SessionCodec

PREFIX = "/dashboard"
MAX_FORM_BYTES = 1 << 20


class Form:
    """A submitted form's fields (first value, or every value of a repeated field)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self._fields.get(name)
        return values[0].strip() if values else default

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self._fields.get(name, []) if v.strip()]

    def has(self, name: str) -> bool:
        return name in self._fields

    def values(self) -> dict[str, str]:
        return {name: self.get(name) for name in self._fields}


class FormRefused(Exception):
    """A form that did not come from our own page (CSRF) or that is too large."""


@dataclass
class Page:
    request: Request
    session: Session
    api: Api
    form: Form = field(default_factory=lambda: Form({}))

    @property
    def keystone(self) -> bool:
        return bool(self.request.app.state.keystone_url)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        env: Environment = self.request.app.state.templates
        html = env.get_template(template).render(
            prefix=PREFIX, session=self.session, keystone=self.keystone,
            path=self.request.url.path, query=self.request.query_params, **context)
        return HTMLResponse(html, status_code=status)

    def fragment(self) -> bool:
        """Whether htmx asked for a part of the page (live refresh), not the whole page."""
        return self.request.headers.get("hx-request") == "true"

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}{path}", status_code=303)


Handler = Callable[[Page], Awaitable[Response]]


def templates() -> Environment:
    env = Environment(loader=PackageLoader("magna.dashboard", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["ago"] = ago
    env.filters["status_class"] = status_class
    return env


def ago(value: str | None) -> str:
    """'12 s ago', '3 min ago' for an API timestamp (the page is read in seconds)."""
    if not value:
        return ""
    try:
        then = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - then).total_seconds())
    if seconds < 90:
        return f"{max(seconds, 0)} s ago"
    if seconds < 5400:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def status_class(status: str | None) -> str:
    """The badge colour of a lifecycle or health status (one word of CSS)."""
    text = (status or "").upper()
    if text.endswith("FAILED") or text == "UNHEALTHY" or text in ("ERROR", "DOWN"):
        return "bad"
    if text.endswith("IN_PROGRESS") or text in ("CREATING", "UNKNOWN"):
        return "busy"
    if text.endswith("COMPLETE") or text in ("HEALTHY", "RUNNING", "UP"):
        return "good"
    return "plain"


async def read_form(request: Request) -> Form:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormRefused("The form is too large.")
    return Form(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def load_session(request: Request) -> Session | None:
    codec: SessionCodec = request.app.state.sessions
    session = codec.open(request.cookies.get(COOKIE))
    signed_in = session is not None and session.token is not None and not session.expired()
    if request.app.state.keystone_url and not signed_in:
        return None
    return session


def set_session(request: Request, response: Response, session: Session) -> None:
    codec: SessionCodec = request.app.state.sessions
    response.set_cookie(COOKIE, codec.seal(session), max_age=MAX_AGE_SECONDS, path=PREFIX,
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.method != "GET":
        target = f"{PREFIX}/"
    elif request.url.query:
        target = f"{target}?{request.url.query}"
    return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)


def page_handler(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        session = load_session(request)
        fresh = session is None
        if session is None:
            if request.app.state.keystone_url:
                return to_login(request)
            session = Session()
        form = Form({})
        if request.method == "POST":
            try:
                form = await read_form(request)
            except FormRefused as exc:
                return HTMLResponse(str(exc), status_code=413)
            if not (_same_origin(request)
                    and hmac.compare_digest(form.get("csrf"), session.csrf)):
                return HTMLResponse("This form did not come from this dashboard (its "
                                    "security token does not match); reload the page and "
                                    "try again.", status_code=403)
        async with Api(request.app.state.api, session.token) as api:
            try:
                response = await handler(Page(request, session, api, form))
            except ApiError as exc:
                if exc.status == 401 and request.app.state.keystone_url:
                    return to_login(request)
                page = Page(request, session, api, form)
                response = page.render("error.html", status=exc.status, error=exc)
        if fresh:
            set_session(request, response, session)
        return response

    return endpoint
