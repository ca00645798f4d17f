"""One cluster's page: what it is, how it is doing, what happened to it, what runs on it.

``GET /clusters/{ident}`` reads the cluster, its template, node groups and events through the
API and renders ``clusters/detail.html``. Two parts of the page refresh themselves (htmx, every
3 s): ``?part=live`` (status, health per node, addresses, node groups, the event timeline) and
``?part=workloads`` (containers of a swarm-mode cluster; pods, replication controllers and
services of a Kubernetes one). A part the API refuses to give (a cluster still building: 409,
an API server not answering: 503) shows the API's message in its place; the rest of the page
still renders. ``POST /clusters/{ident}/delete`` asks the API to delete and returns to the
list, where the row shows ``DELETE_IN_PROGRESS`` until the cluster is gone.

The shaping functions (``node_health``, ``timeline``, ``workload_sections``) are pure: API
documents in, rows for the templates out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from magna.dashboard.apicall import ApiError
from magna.dashboard.web import Page, page_handler

# A health entry's key is "<node>.<Condition>" ("default-worker-0.Ready"); anything else
# ("api", an administrator's free-form key) is one entry with no condition.
_CONDITION_KEY = re.compile(r"^(?P<node>.+)\.(?P<condition>[A-Z][A-Za-z]*)$")
EVENT_LIMIT = 200


@dataclass(frozen=True)
class NodeHealth:
    node: str
    condition: str
    healthy: bool | None
    reason: str


def node_health(reason: dict[str, Any] | None) -> list[NodeHealth]:
    """Magnum's ``health_status_reason`` as one row per node and condition.

    Values are ``"True"`` (holds), ``"False: why"`` (fails), ``"ok"`` for the API endpoint, or
    an administrator's free text (healthy unknown).
    """
    rows = []
    for key, value in (reason or {}).items():
        match = _CONDITION_KEY.match(key)
        node, condition = (match["node"], match["condition"]) if match else (key, "")
        text = str(value)
        verdict, _, why = text.partition(":")
        healthy = {"true": True, "ok": True, "false": False}.get(verdict.strip().lower())
        rows.append(NodeHealth(node, condition, healthy,
                               why.strip() if healthy is False else ("" if healthy else text)))
    return rows


@dataclass(frozen=True)
class TimelineEntry:
    when: str
    level: str
    reason: str
    message: str
    generation: int | None
    took: str


def timeline(events: list[dict[str, Any]], cluster: dict[str, Any]) -> list[TimelineEntry]:
    """The events, oldest first, each with how long its phase took.

    An event closes a phase of one operation; the operations are told apart by the
    ``generation`` the event was recorded for (each create, resize, upgrade or delete bumps
    it). A phase took the time between the previous event of the same generation and this one.
    The first event of generation 1 is measured from the cluster's ``created_at`` (the create
    request); the first event of a later generation has no known start (the API keeps no
    request time per generation), so its duration is left blank.
    """
    last_seen: dict[Any, datetime] = {}
    created = _parse_time(cluster.get("created_at"))
    if created is not None:
        last_seen[1] = created
    entries = []
    for event in events:
        when = _parse_time(event.get("created_at"))
        generation = event.get("generation")
        before = last_seen.get(generation)
        took = duration(when - before) if when and before else ""
        if when is not None:
            last_seen[generation] = when
        entries.append(TimelineEntry(event.get("created_at") or "", event.get("level") or "",
                                     event.get("reason") or "", event.get("message") or "",
                                     generation, took))
    return entries


def duration(delta: Any) -> str:
    seconds = max(delta.total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class Section:
    """A read-only table of what runs on the cluster, or the API's reason it cannot say."""

    id: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None


SWARM_SECTIONS = (("containers", "Containers", "/v1/containers", "containers",
                   [("name", "Name"), ("image", "Image"), ("status", "Status"),
                    ("host", "Host")]),)
KUBERNETES_SECTIONS = (
    ("pods", "Pods", "/v1/pods", "pods",
     [("name", "Name"), ("namespace", "Namespace"), ("images", "Images"),
      ("status", "Status"), ("host", "Host"), ("ip", "IP")]),
    ("rcs", "Replication controllers", "/v1/rcs", "rcs",
     [("name", "Name"), ("namespace", "Namespace"), ("images", "Images"),
      ("replicas", "Replicas"), ("ready_replicas", "Ready")]),
    ("services", "Services", "/v1/services", "services",
     [("name", "Name"), ("namespace", "Namespace"), ("type", "Type"), ("ip", "Cluster IP"),
      ("ports", "Ports")]),
)


def sections_for(coe: str | None) -> tuple[Any, ...]:
    if coe == "swarm-mode":
        return SWARM_SECTIONS
    if coe == "kubernetes":
        return KUBERNETES_SECTIONS
    return ()


def workload_sections(coe: str | None,
                      answers: dict[str, list[dict[str, Any]] | ApiError]) -> list[Section]:
    """The sections of a COE from what the API answered for each (its list, or its error)."""
    sections = []
    for ident, title, _path, _key, columns in sections_for(coe):
        answer = answers.get(ident, [])
        if isinstance(answer, ApiError):
            sections.append(Section(ident, title, columns, message=answer.message))
        else:
            rows = [{key: cell(item.get(key)) for key, _ in columns} for item in answer]
            sections.append(Section(ident, title, columns, rows))
    return sections


def cell(value: Any) -> str:
    """A document's value as table text (lists joined, ports as port→target/protocol)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, dict) and "port" in value:
        target = value.get("targetPort")
        text = f"{value['port']}" + (f"→{target}" if target not in (None, "") else "")
        return text + (f"/{value['protocol']}" if value.get("protocol") else "")
    return str(value)


async def workloads(page: Page, cluster: dict[str, Any], coe: str | None) -> list[Section]:
    answers: dict[str, list[dict[str, Any]] | ApiError] = {}
    for ident, _title, path, key, _columns in sections_for(coe):
        cluster_filter = ({"cluster": cluster["uuid"]} if coe == "swarm-mode"
                          else {"cluster_ident": cluster["uuid"]})
        try:
            answers[ident] = (await page.api.get(path, **cluster_filter)).get(key, [])
        except ApiError as exc:
            if exc.status == 401:
                raise
            answers[ident] = exc
    return workload_sections(coe, answers)


async def template_of(page: Page, cluster: dict[str, Any]) -> dict[str, Any] | None:
    """The cluster's template, or None when this user may not read it (a hidden one)."""
    try:
        template: dict[str, Any] = await page.api.get(
            f"/v1/clustertemplates/{cluster['cluster_template_id']}")
    except ApiError as exc:
        if exc.status in (403, 404):
            return None
        raise
    return template


async def live_state(page: Page, ident: str) -> dict[str, Any]:
    """What the live part shows: the cluster, its node groups, health rows, timeline."""
    cluster = await page.api.get(f"/v1/clusters/{ident}")
    groups = await page.api.get(f"/v1/clusters/{cluster['uuid']}/nodegroups")
    events = await page.api.get(f"/v1/clusters/{cluster['uuid']}/events", limit=EVENT_LIMIT)
    return {"cluster": cluster, "nodegroups": groups.get("nodegroups", []),
            "health": node_health(cluster.get("health_status_reason")),
            "timeline": timeline(events.get("events", []), cluster)}


def is_admin(page: Page) -> bool:
    return not page.keystone or "admin" in page.session.roles


async def render_detail(page: Page, ident: str, status: int = 200,
                        error: str | None = None) -> Response:
    state = await live_state(page, ident)
    template = await template_of(page, state["cluster"])
    coe = template.get("coe") if template else None
    return page.render("clusters/detail.html", status=status, error=error,
                       cluster_template=template, coe=coe, admin=is_admin(page),
                       sections=await workloads(page, state["cluster"], coe), **state)


@page_handler
async def cluster_detail(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    part = page.request.query_params.get("part")
    if page.fragment() and part in ("live", "workloads"):
        try:
            return await refreshed_part(page, ident, part)
        except ApiError as exc:
            if exc.status != 404:
                raise
            # NOTE: a 200 so that htmx swaps it in: the part stops refreshing and says why.
            return page.render("clusters/detail_gone.html", part=part, message=exc.message)
    return await render_detail(page, ident)


async def refreshed_part(page: Page, ident: str, part: str) -> Response:
    if part == "live":
        return page.render("clusters/detail_live.html", **await live_state(page, ident))
    cluster = await page.api.get(f"/v1/clusters/{ident}")
    template = await template_of(page, cluster)
    coe = template.get("coe") if template else None
    return page.render("clusters/detail_workloads.html", cluster=cluster,
                       sections=await workloads(page, cluster, coe))


@page_handler
async def delete_cluster(page: Page) -> Response:
    ident = page.request.path_params["ident"]
    try:
        await page.api.delete(f"/v1/clusters/{ident}")
    except ApiError as exc:
        if exc.status == 404:
            raise
        return await render_detail(page, ident, status=exc.status,
                                   error=f"Not deleted: {exc.message}")
    return page.redirect("/clusters")


# NOTE: "/clusters/{ident}" matches any one segment, so these routes must come after the other
# pages' fixed paths under /clusters (/clusters/new, …) in ROUTES.
ROUTES = [
    Route("/clusters/{ident}", cluster_detail),
    Route("/clusters/{ident}/delete", delete_cluster, methods=["POST"]),
]
