"""Cluster templates: the table (filters, cluster count), a detail page, create, update, delete.

The form (``template_form``) has every field the API accepts; its choices come from the API's
catalogs (images, flavors, keypairs). Create is one POST; update is one PATCH of only the
fields the user changed; the API's refusal (a driver's, a policy's) is shown beside the field
it names and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from magna.dashboard.apicall import ApiError
from magna.dashboard.forms import BadText
from magna.dashboard.pages import template_form as tf
from magna.dashboard.pages.clusters import matches
from magna.dashboard.web import Page, page_handler

COLUMNS = (("name", "Name"), ("uuid", "ID"), ("coe", "COE"), ("image_id", "Image"),
           ("network_driver", "Network driver"), ("public", "Public"), ("hidden", "Hidden"))
COES = (("swarm-mode", "swarm-mode (Docker swarm)"), ("kubernetes", "kubernetes"))
# NOTE: Magnum's two server types; the local drivers build "vm" only and the API says so.
SERVER_TYPES = (("vm", "vm"), ("bm", "bm"))


def shown_values(template: dict[str, Any]) -> dict[str, Any]:
    """A template's columns as the table shows them (flags as yes/no), for the filters."""
    return {key: ("yes" if template.get(key) else "no") if key in ("public", "hidden")
            else template.get(key) for key, _ in COLUMNS}


async def _templates(page: Page) -> list[dict[str, Any]]:
    return await page.api.every("/v1/clustertemplates/detail", "clustertemplates")


async def _cluster_counts(page: Page) -> dict[str, int]:
    """How many clusters (that the user sees) each template has: one list of clusters."""
    counts: dict[str, int] = {}
    for cluster in await page.api.every("/v1/clusters", "clusters"):
        uuid = str(cluster.get("cluster_template_id"))
        counts[uuid] = counts.get(uuid, 0) + 1
    return counts


async def _list_page(page: Page, status: int = 200, error: str | None = None) -> Response:
    filters = {key: page.request.query_params.get(key, "") for key, _ in COLUMNS}
    every = await _templates(page)
    shown = [t for t in every if matches(shown_values(t), filters)]
    template = "templates/rows.html" if page.fragment() else "templates/list.html"
    return page.render(template, status=status, templates=shown, total=len(every),
                       filters=filters, columns=COLUMNS, counts=await _cluster_counts(page),
                       error=error)


@page_handler
async def template_list(page: Page) -> Response:
    return await _list_page(page)


@page_handler
async def delete_templates(page: Page) -> Response:
    failures = []
    for ident in page.form.all("uuid"):
        try:
            await page.api.delete(f"/v1/clustertemplates/{ident}")
        except ApiError as exc:
            failures.append(f"{ident}: {exc.message}")
    if failures:
        return await _list_page(page, status=400, error="Not deleted: " + "; ".join(failures))
    return page.redirect("/templates")


@page_handler
async def template_detail(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    template = await page.api.get(f"/v1/clustertemplates/{ident}")
    clusters = [c for c in await page.api.every("/v1/clusters", "clusters")
                if c.get("cluster_template_id") == template["uuid"]]
    return page.render("templates/detail.html", tmpl=template, clusters=clusters,
                       sections=tf.SECTIONS)


async def _choices(page: Page, values: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """Each select's options, from the API's catalogs; a current value is always offered."""
    images = (await page.api.get("/image/v2/images")).get("images", [])
    flavors = (await page.api.get("/compute/v2.1/flavors/detail")).get("flavors", [])
    keypairs = (await page.api.get("/v1/keypairs")).get("keypairs", [])
    choices = {
        "coe": list(COES), "server_types": list(SERVER_TYPES),
        "images": [(i["name"], f"{i['name']} ({i.get('os_distro') or 'no os_distro'})")
                   for i in images],
        "flavors": [(f["name"], f"{f['name']} ({f['vcpus']} vCPU, {f['ram']} MB)")
                    for f in flavors],
        "keypairs": [(k["name"], k["name"]) for k in keypairs],
    }
    for f in tf.FIELDS:
        current = values.get(f.name)
        offered = choices.get(f.choices)
        if offered is not None and current and current not in {v for v, _ in offered}:
            offered.append((current, current))
    return choices


async def _form(page: Page, *, values: dict[str, str], errors: dict[str, str],
                status: int = 200, template: dict[str, Any] | None = None) -> Response:
    return page.render("templates/form.html", status=status, values=values, errors=errors,
                       sections=tf.SECTIONS, choices=await _choices(page, values),
                       tmpl=template)


@page_handler
async def new_template(page: Page) -> Response:
    if page.request.method == "GET":
        return await _form(page, values=dict(tf.DEFAULTS), errors={})
    values = page.form.values()
    try:
        created = await page.api.post("/v1/clustertemplates", tf.create_body(values))
    except BadText as exc:
        return await _form(page, values=values, errors={exc.field: str(exc)}, status=400)
    except ApiError as exc:
        return await _form(page, values=values, errors=tf.errors_for(exc.message, values),
                           status=exc.status)
    return page.redirect(f"/templates/{created['uuid']}")


@page_handler
async def edit_template(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    template = await page.api.get(f"/v1/clustertemplates/{ident}")
    if page.request.method == "GET":
        return await _form(page, values=tf.form_values(template), errors={}, template=template)
    values = page.form.values()
    try:
        ops = tf.patch_ops(template, values)
        if ops:
            await page.api.patch(f"/v1/clustertemplates/{template['uuid']}", ops)
    except BadText as exc:
        return await _form(page, values=values, errors={exc.field: str(exc)}, status=400,
                           template=template)
    except ApiError as exc:
        return await _form(page, values=values, errors=tf.errors_for(exc.message, values),
                           status=exc.status, template=template)
    return page.redirect(f"/templates/{template['uuid']}")


ROUTES = [
    Route("/templates", template_list),
    Route("/templates/delete", delete_templates, methods=["POST"]),
    Route("/templates/new", new_template, methods=["GET", "POST"]),
    Route("/templates/{ident}", template_detail),
    Route("/templates/{ident}/edit", edit_template, methods=["GET", "POST"]),
]
