"""Administration: the conductors (``/v1/mservices``) and what the local drivers need of this host.

The conductors come from the API. The host requirements are not an API resource: they are
what ``magna status`` checks on the machine it runs on, and here that machine is the API's own
host, so the page asks ``magna.hostcheck`` directly. It does so only for a user the API treats
as an administrator: the conductors' list (admin only by policy) is read first, and its refusal
is the page (the API's message), so nobody else learns anything about the host. The
conductors' rows refresh themselves (htmx); the host checks run once per page load.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route

from magna.dashboard.web import Page, page_handler
from magna.hostcheck import requirements


@page_handler
async def admin_page(page: Page) -> Response:
    conductors = (await page.api.get("/v1/mservices")).get("mservices", [])
    if page.fragment():
        return page.render("admin/conductors.html", conductors=conductors)
    # NOTE: the checks run commands (ip netns, iptables, losetup) with timeouts: off the loop.
    host = await run_in_threadpool(requirements.check)
    return page.render("admin/index.html", conductors=conductors, host=host,
                       missing=sum(1 for r in host if not r.met))


ROUTES = [Route("/admin", admin_page)]
