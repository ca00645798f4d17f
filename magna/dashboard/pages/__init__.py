"""The dashboard's pages, one module per resource; ``ROUTES`` is every page's route."""

from __future__ import annotations

from starlette.routing import BaseRoute

from magna.dashboard.pages import cluster_certs, cluster_detail, clusters

ROUTES: list[BaseRoute] = [
    *clusters.ROUTES,
    *cluster_certs.ROUTES,
    # NOTE: last: /clusters/{ident} would take any fixed path under /clusters listed after it.
    *cluster_detail.ROUTES,
]
