"""The dashboard's pages, one module per resource; ``ROUTES`` is every page's route."""

from __future__ import annotations

from starlette.routing import BaseRoute

from magna.dashboard.pages import (
    admin,
    cluster_certs,
    cluster_detail,
    cluster_forms,
    clusters,
    nodegroups,
    quotas,
    templates,
)

ROUTES: list[BaseRoute] = [
    *cluster_forms.ROUTES,
    *clusters.ROUTES,
    *cluster_certs.ROUTES,
    *nodegroups.ROUTES,
    *templates.ROUTES,
    *quotas.ROUTES,
    *admin.ROUTES,
    # NOTE: last: /clusters/{ident} would take any fixed path under /clusters listed after it
    # (/clusters/new, /clusters/delete).
    *cluster_detail.ROUTES,
]
