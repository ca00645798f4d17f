"""The dashboard's pages, one module per resource; ``ROUTES`` is every page's route."""

from __future__ import annotations

from starlette.routing import BaseRoute

from magna.dashboard.pages import admin, clusters, quotas, templates

ROUTES: list[BaseRoute] = [
    *clusters.ROUTES,
    *templates.ROUTES,
    *quotas.ROUTES,
    *admin.ROUTES,
]
