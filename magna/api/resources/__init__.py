"""One module per API resource: its request schemas, its response views and thin handlers."""

from magna.api.resources import clusters, clustertemplates, root

ROUTERS = [root.router, clustertemplates.router, clusters.router]
