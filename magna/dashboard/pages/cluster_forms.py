"""The cluster forms: the create wizard, resize and rolling upgrade.

Each form is one page that posts to itself. A valid-looking form becomes exactly one API call
(``POST /v1/clusters``, ``…/actions/resize``, ``…/actions/upgrade``); the API decides what is
valid. On success the browser is sent (303) to the cluster's page; on an ``ApiError`` the form
comes back with the user's values and the API's message beside the field it is about.

The form turns text into the API's types only where the text is unambiguous: a number field
that is not a number is sent as typed, so the API's own message names it. Labels are
``key=value`` lines, merged onto the template's labels (``merge_labels``); the auto-healing
choice is the label ``auto_healing_enabled``.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from magna.dashboard.apicall import ApiError
from magna.dashboard.forms import BadText, locate, number, parse_pairs
from magna.dashboard.web import Form, Page, page_handler

CREATE_FIELDS = ["cluster_template_id", "name", "keypair", "master_count", "node_count",
                 "master_flavor_id", "flavor_id", "fixed_network", "fixed_subnet",
                 "master_lb_enabled", "auto_healing_enabled", "floating_ip_enabled",
                 "docker_volume_size", "labels", "create_timeout"]
TEXT_FIELDS = ("name", "keypair", "master_flavor_id", "flavor_id", "fixed_network",
               "fixed_subnet")
NUMBER_FIELDS = ("master_count", "node_count", "docker_volume_size", "create_timeout")
FLAG_FIELDS = ("master_lb_enabled", "floating_ip_enabled")
# The API's words for a field instead of its attribute name (forms.locate).
ALIASES = {"master nodegroup size": ("master_count",),
           "clustertemplate": ("cluster_template_id",),
           "cluster template": ("cluster_template_id",)}
# Tri-state choices: empty keeps what the template says.
FLAG_CHOICES = [("true", "Yes"), ("false", "No")]


def create_body(form: Form) -> dict[str, Any]:
    """The one ``POST /v1/clusters`` body of the wizard (empty fields: the template's)."""
    body: dict[str, Any] = {"cluster_template_id": form.get("cluster_template_id")}
    body.update({name: form.get(name) for name in TEXT_FIELDS if form.get(name)})
    body.update({name: number(form.get(name)) for name in NUMBER_FIELDS if form.get(name)})
    body.update({name: form.get(name) == "true" for name in FLAG_FIELDS if form.get(name)})
    labels = parse_pairs(form.get("labels"), "labels")
    if form.get("auto_healing_enabled"):
        labels["auto_healing_enabled"] = form.get("auto_healing_enabled")
    if labels:
        body["labels"] = labels
        body["merge_labels"] = True
    return body


async def choices(page: Page) -> dict[str, Any]:
    """What the wizard's selects offer: templates, keypairs, flavors (the drivers' catalog)."""
    templates = await page.api.every("/v1/clustertemplates", "clustertemplates")
    keypairs = (await page.api.get("/v1/keypairs")).get("keypairs", [])
    flavors = (await page.api.get("/compute/v2.1/flavors/detail")).get("flavors", [])
    return {
        "templates": [(t["uuid"], f"{t['name']} ({t['coe']}, {t['image_id']})")
                      for t in templates],
        "keypairs": [(k["name"], k["name"]) for k in keypairs],
        "flavors": [(f["name"], f"{f['name']} ({f['vcpus']} vCPU, {f['ram']} MB)")
                    for f in flavors],
    }


@page_handler
async def create_cluster(page: Page) -> Response:
    values = {"cluster_template_id": page.request.query_params.get("template", ""),
              "master_count": "1", "node_count": "1"}
    errors: dict[str, str] = {}
    status = 200
    if page.request.method == "POST":
        values = page.form.values()
        try:
            created = await page.api.post("/v1/clusters", create_body(page.form))
            return page.redirect(f"/clusters/{created['uuid']}")
        except BadText as exc:
            status, errors = 400, {exc.field: str(exc)}
        except ApiError as exc:
            status, errors = exc.status, locate(exc.message, CREATE_FIELDS, values, ALIASES)
    return page.render("clusters/new.html", status=status, values=values, errors=errors,
                       flags=FLAG_CHOICES, **await choices(page))


# -- resize -----------------------------------------------------------------------------------

def node_names(cluster: dict[str, Any], nodegroup: str) -> list[str]:
    """The nodes of a group, as the API's health report names them (``<group>-<i>.Ready``);
    these names are what ``nodes_to_remove`` takes."""
    pattern = re.compile(rf"^({re.escape(nodegroup)}-\d+)\.Ready$")
    reasons = cluster.get("health_status_reason") or {}
    found = [m.group(1) for key in reasons if (m := pattern.match(str(key)))]
    return sorted(found, key=lambda name: int(name.rsplit("-", 1)[1]))


def default_worker(groups: list[dict[str, Any]]) -> str:
    chosen = [g for g in groups if g.get("is_default")] or groups
    return str(chosen[0]["name"]) if chosen else ""


async def resize_context(page: Page, ident: str, chosen: str) -> dict[str, Any]:
    cluster = await page.api.get(f"/v1/clusters/{ident}")
    groups = [g for g in await page.api.every(f"/v1/clusters/{cluster['uuid']}/nodegroups",
                                               "nodegroups") if g.get("role") != "master"]
    chosen = chosen or default_worker(groups)
    group = next((g for g in groups if g["name"] == chosen), None)
    return {"cluster": cluster, "groups": [(g["name"], f"{g['name']} ({g['node_count']} "
                                             "nodes)") for g in groups],
            "group": group, "nodes": node_names(cluster, chosen), "chosen": chosen}


@page_handler
async def resize_cluster(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    chosen = page.form.get("nodegroup") or page.request.query_params.get("nodegroup", "")
    context = await resize_context(page, ident, chosen)
    group = context["group"] or {}
    values = {"nodegroup": context["chosen"], "node_count": str(group.get("node_count", ""))}
    errors: dict[str, str] = {}
    status = 200
    if page.request.method == "POST":
        values = page.form.values()
        body = {"node_count": number(page.form.get("node_count")),
                "nodes_to_remove": page.form.all("nodes_to_remove"),
                "nodegroup": page.form.get("nodegroup") or None}
        try:
            await page.api.post(f"/v1/clusters/{context['cluster']['uuid']}/actions/resize",
                                body)
            return page.redirect(f"/clusters/{context['cluster']['uuid']}")
        except ApiError as exc:
            status = exc.status
            errors = locate(exc.message, ["node_count", "nodes_to_remove", "nodegroup"], values)
    return page.render("clusters/resize.html", status=status, values=values, errors=errors,
                       removing=set(page.form.all("nodes_to_remove")), **context)


# -- upgrade ----------------------------------------------------------------------------------

async def upgrade_context(page: Page, ident: str) -> dict[str, Any]:
    cluster = await page.api.get(f"/v1/clusters/{ident}")
    templates = await page.api.every("/v1/clustertemplates", "clustertemplates")
    current = cluster["cluster_template_id"]
    coe = next((t["coe"] for t in templates if t["uuid"] == current), None)
    offered = [(t["uuid"], f"{t['name']} ({t['image_id']})"
                + (" — current" if t["uuid"] == current else ""))
               for t in templates if coe is None or t["coe"] == coe]
    groups = await page.api.every(f"/v1/clusters/{cluster['uuid']}/nodegroups", "nodegroups")
    return {"cluster": cluster, "templates": offered,
            "groups": [(g["name"], f"{g['name']} ({g['role']})") for g in groups]}


@page_handler
async def upgrade_cluster(page: Page) -> Response:
    context = await upgrade_context(page, page.request.path_params["ident"])
    uuid = context["cluster"]["uuid"]
    values = {"cluster_template": context["cluster"]["cluster_template_id"],
              "max_batch_size": "1"}
    errors: dict[str, str] = {}
    status = 200
    if page.request.method == "POST":
        values = page.form.values()
        body: dict[str, Any] = {"cluster_template": page.form.get("cluster_template"),
                                "max_batch_size": number(page.form.get("max_batch_size"))}
        if page.form.get("nodegroup"):
            body["nodegroup"] = page.form.get("nodegroup")
        try:
            await page.api.post(f"/v1/clusters/{uuid}/actions/upgrade", body)
            return page.redirect(f"/clusters/{uuid}")
        except ApiError as exc:
            status = exc.status
            errors = locate(exc.message, ["cluster_template", "max_batch_size", "nodegroup"],
                            values)
    return page.render("clusters/upgrade.html", status=status, values=values, errors=errors,
                       **context)


ROUTES = [
    Route("/clusters/new", create_cluster, methods=["GET", "POST"]),
    Route("/clusters/{ident}/resize", resize_cluster, methods=["GET", "POST"]),
    Route("/clusters/{ident}/upgrade", upgrade_cluster, methods=["GET", "POST"]),
]
