"""Quotas (administrators): every project's cluster limit; create, change, delete.

``/v1/quotas`` is addressed by project and resource. The list asks for every project's
(``all_tenants``); a user the policy does not let read them gets the API's message as the page.
Each action is one API call; its refusal is shown above the form that made it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from magna.dashboard.apicall import ApiError
from magna.dashboard.forms import locate
from magna.dashboard.web import Page, page_handler

FIELDS = ["project_id", "resource", "hard_limit"]
RESOURCES = (("Cluster", "Cluster"),)


def _limit(text: str) -> Any:
    # NOTE: a non-number goes to the API as typed; its 400 names hard_limit.
    return int(text) if text.lstrip("-").isdigit() else text


async def _page(page: Page, *, status: int = 200, values: dict[str, str] | None = None,
                errors: dict[str, str] | None = None, error: str | None = None) -> Response:
    quotas = await page.api.every("/v1/quotas", "quotas", all_tenants="True")
    return page.render("quotas/list.html", status=status, quotas=quotas,
                       values=values or {"resource": "Cluster"}, errors=errors or {},
                       resources=RESOURCES, error=error)


@page_handler
async def quota_list(page: Page) -> Response:
    return await _page(page)


@page_handler
async def create_quota(page: Page) -> Response:
    values = page.form.values()
    body = {"project_id": values.get("project_id", ""),
            "resource": values.get("resource") or "Cluster",
            "hard_limit": _limit(values.get("hard_limit", ""))}
    try:
        await page.api.post("/v1/quotas", body)
    except ApiError as exc:
        return await _page(page, status=exc.status, values=values,
                           errors=locate(exc.message, FIELDS))
    return page.redirect("/quotas")


def _target(page: Page) -> str:
    params = page.request.path_params
    return f"/v1/quotas/{params['project_id']}/{params['resource']}"


@page_handler
async def update_quota(page: Page) -> Response:
    params = page.request.path_params
    body = {"project_id": params["project_id"], "resource": params["resource"],
            "hard_limit": _limit(page.form.get("hard_limit"))}
    try:
        await page.api.call("PATCH", _target(page), body=body)
    except ApiError as exc:
        return await _page(page, status=exc.status,
                           error=f"Quota of {params['project_id']} not changed: {exc.message}")
    return page.redirect("/quotas")


@page_handler
async def delete_quota(page: Page) -> Response:
    params = page.request.path_params
    try:
        await page.api.delete(_target(page))
    except ApiError as exc:
        return await _page(page, status=exc.status,
                           error=f"Quota of {params['project_id']} not deleted: {exc.message}")
    return page.redirect("/quotas")


ROUTES = [
    Route("/quotas", quota_list),
    Route("/quotas/new", create_quota, methods=["POST"]),
    Route("/quotas/{project_id}/{resource}/update", update_quota, methods=["POST"]),
    Route("/quotas/{project_id}/{resource}/delete", delete_quota, methods=["POST"]),
]
