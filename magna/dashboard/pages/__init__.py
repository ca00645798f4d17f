"""The dashboard's pages, one module per resource; ``ROUTES`` is every page's route."""

from __future__ import annotations

from starlette.routing import BaseRoute

from magna.dashboard.pages import cluster_forms, clusters, nodegroups

ROUTES: list[BaseRoute] = [
    *cluster_forms.ROUTES,  # before clusters: /clusters/new is not a cluster's name
    *clusters.ROUTES,
    *nodegroups.ROUTES,
]
