"""The dashboard's pages, one module per resource; ``ROUTES`` is every page's route."""

from __future__ import annotations

from starlette.routing import BaseRoute

from magna.dashboard.pages import (
    admin,
    cluster_certs,
    cluster_detail,
    clusters,
    quotas,
    templates,
)

ROUTES: list[BaseRoute] = [
    *clusters.ROUTES,
    *cluster_certs.ROUTES,
    *templates.ROUTES,
    *quotas.ROUTES,
    *admin.ROUTES,
    # NOTE: last: /clusters/{ident} would take any fixed path under /clusters listed after it.
    *cluster_detail.ROUTES,
]
