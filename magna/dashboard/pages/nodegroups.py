"""A cluster's node groups: the table (live status), create, resize, delete.

Magnum's node-group list carries no labels, taints or status reasons, so the table reads each
group's own document (one call per group; clusters have a handful). The table body is an htmx
fragment re-fetched every 3 s; the forms live outside it, so a refresh never wipes what the
user is typing.

Resizing a group is the cluster's resize action with ``nodegroup`` set: the API refuses
``node_count`` in a node-group PATCH (an internal attribute, as in Magnum). Taints are the API's
``node_taints`` (``key=value:Effect`` lines here, the kubectl syntax); node labels its
``node_labels``, and labels the Magnum ``labels`` of the group.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from magna.dashboard.apicall import ApiError
from magna.dashboard.forms import BadText, locate, number, parse_pairs
from magna.dashboard.web import Form, Page, page_handler

CREATE_FIELDS = ["name", "role", "node_count", "min_node_count", "max_node_count",
                 "flavor_id", "image_id", "labels", "node_labels", "node_taints"]
NUMBER_FIELDS = ("node_count", "min_node_count", "max_node_count")


def parse_taints(text: str) -> list[dict[str, str]]:
    """``key[=value]:Effect`` lines as the API's taint objects (the API checks the effect)."""
    taints = []
    for line in text.splitlines():
        if not line.strip():
            continue
        pair, _, effect = line.strip().rpartition(":") if ":" in line else (line, "", "")
        key, sep, value = pair.strip().partition("=")
        if not key.strip():
            raise BadText("node_taints", f"'{line.strip()}' is not a key=value:Effect line.")
        taint = {"key": key.strip()}
        taint.update({"value": value.strip()} if sep else {})
        taint.update({"effect": effect.strip()} if effect.strip() else {})
        taints.append(taint)
    return taints


def format_taints(taints: list[dict[str, Any]] | None) -> list[str]:
    return [f"{t.get('key')}{'=' + str(t['value']) if t.get('value') else ''}:"
            f"{t.get('effect', '')}" for t in taints or []]


def create_body(form: Form) -> dict[str, Any]:
    """The one ``POST …/nodegroups`` body (empty fields: the API's defaults, the cluster's)."""
    body: dict[str, Any] = {"name": form.get("name"), "role": form.get("role") or "worker"}
    body.update({name: number(form.get(name)) for name in NUMBER_FIELDS if form.get(name)})
    body.update({name: form.get(name) for name in ("flavor_id", "image_id") if form.get(name)})
    for name in ("labels", "node_labels"):
        if pairs := parse_pairs(form.get(name), name):
            body[name] = pairs
    if form.get("labels"):
        body["merge_labels"] = True
    if taints := parse_taints(form.get("node_taints")):
        body["node_taints"] = taints
    return body


async def table(page: Page, ident: str) -> dict[str, Any]:
    cluster = await page.api.get(f"/v1/clusters/{ident}")
    base = f"/v1/clusters/{cluster['uuid']}/nodegroups"
    summaries = await page.api.every(base, "nodegroups")
    groups = [await page.api.get(f"{base}/{g['uuid']}") for g in summaries]
    resizable = [(g["name"], g["name"]) for g in groups if g["role"] != "master"]
    return {"cluster": cluster, "groups": groups, "resizable": resizable,
            "format_taints": format_taints}


async def choices(page: Page) -> dict[str, Any]:
    flavors = (await page.api.get("/compute/v2.1/flavors")).get("flavors", [])
    images = (await page.api.get("/image/v2/images")).get("images", [])
    return {"flavors": [(f["name"], f["name"]) for f in flavors],
            "images": [(i["name"], i["name"]) for i in images]}


async def render_page(page: Page, ident: str, *, status: int = 200,
                      values: dict[str, str] | None = None,
                      errors: dict[str, str] | None = None,
                      change_values: dict[str, str] | None = None,
                      change_errors: dict[str, str] | None = None) -> Response:
    context = await table(page, ident)
    if page.fragment():
        return page.render("nodegroups/rows.html", **context)
    return page.render("nodegroups/list.html", status=status,
                       values=values or {"role": "worker", "node_count": "1"},
                       errors=errors or {}, change_values=change_values or {},
                       change_errors=change_errors or {},
                       **context, **await choices(page))


@page_handler
async def nodegroup_list(page: Page) -> Response:
    return await render_page(page, page.request.path_params["ident"])


@page_handler
async def create_nodegroup(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    values = page.form.values()
    try:
        cluster = await page.api.get(f"/v1/clusters/{ident}")
        await page.api.post(f"/v1/clusters/{cluster['uuid']}/nodegroups",
                            create_body(page.form))
    except BadText as exc:
        return await render_page(page, ident, status=400, values=values,
                                 errors={exc.field: str(exc)})
    except ApiError as exc:
        return await render_page(page, ident, status=exc.status, values=values,
                                 errors=locate(exc.message, CREATE_FIELDS, values))
    return page.redirect(f"/clusters/{cluster['uuid']}/nodegroups")


@page_handler
async def change_nodegroup(page: Page) -> Response:
    """Resize (the cluster's resize action for this group) or delete the chosen group."""
    ident = page.request.path_params["ident"]
    group = page.form.get("nodegroup")
    try:
        cluster = await page.api.get(f"/v1/clusters/{ident}")
        if page.form.get("action") == "delete":
            await page.api.delete(f"/v1/clusters/{cluster['uuid']}/nodegroups/{group}")
        else:
            await page.api.post(f"/v1/clusters/{cluster['uuid']}/actions/resize",
                                {"node_count": number(page.form.get("node_count")),
                                 "nodegroup": group})
    except ApiError as exc:
        values = page.form.values()
        return await render_page(page, ident, status=exc.status, change_values=values,
                                 change_errors=locate(exc.message, ["node_count", "nodegroup"],
                                                      values))
    return page.redirect(f"/clusters/{cluster['uuid']}/nodegroups")


ROUTES = [
    Route("/clusters/{ident}/nodegroups", nodegroup_list),
    Route("/clusters/{ident}/nodegroups/new", create_nodegroup, methods=["POST"]),
    Route("/clusters/{ident}/nodegroups/change", change_nodegroup, methods=["POST"]),
]
