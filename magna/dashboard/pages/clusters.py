"""Clusters: the table (filters, usage, live status), bulk delete."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from magna.dashboard.apicall import ApiError
from magna.dashboard.web import Page, page_handler

# The table's columns: (query parameter / attribute, heading). Every column has a filter.
COLUMNS = (("name", "Name"), ("uuid", "ID"), ("status", "Status"),
           ("health_status", "Health"), ("master_count", "Control plane"),
           ("node_count", "Nodes"), ("coe_version", "COE version"))


def matches(cluster: dict[str, Any], filters: dict[str, str]) -> bool:
    """Whether a cluster passes every column filter (case-insensitive substring)."""
    for key, wanted in filters.items():
        if wanted and wanted.lower() not in str(cluster.get(key) or "").lower():
            return False
    return True


async def usage(page: Page) -> dict[str, Any]:
    """The header: clusters and nodes used by the project, and its cluster quota if any."""
    stats = await page.api.get("/v1/stats", project_id=page.session.project_id)
    limit = None
    try:
        quota = await page.api.get(f"/v1/quotas/{page.session.project_id}/Cluster")
        limit = quota.get("hard_limit")
    except ApiError:
        limit = None
    return {"clusters": stats.get("clusters"), "nodes": stats.get("nodes"), "limit": limit}


@page_handler
async def cluster_list(page: Page) -> Response:
    filters = {key: page.request.query_params.get(key, "") for key, _ in COLUMNS}
    every = await page.api.every("/v1/clusters/detail", "clusters")
    shown = [c for c in every if matches(c, filters)]
    template = "clusters/rows.html" if page.fragment() else "clusters/list.html"
    return page.render(template, clusters=shown, total=len(every), filters=filters,
                       columns=COLUMNS, usage=await usage(page))


@page_handler
async def delete_clusters(page: Page) -> Response:
    chosen = page.form.all("uuid")
    failures = []
    for ident in chosen:
        try:
            await page.api.delete(f"/v1/clusters/{ident}")
        except ApiError as exc:
            failures.append(f"{ident}: {exc.message}")
    if failures:
        every = await page.api.every("/v1/clusters/detail", "clusters")
        return page.render("clusters/list.html", status=400, clusters=every, total=len(every),
                           filters={}, columns=COLUMNS, usage=await usage(page),
                           error="Not deleted: " + "; ".join(failures))
    return page.redirect("/clusters")


ROUTES = [
    Route("/clusters", cluster_list),
    Route("/clusters/delete", delete_clusters, methods=["POST"]),
]
