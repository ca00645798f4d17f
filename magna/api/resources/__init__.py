"""One module per API resource: its request schemas, its response views and thin handlers."""

from magna.api.resources import (
    baymodels,
    bays,
    certificates,
    clusters,
    clustertemplates,
    coe_objects,
    compute,
    containers,
    credentials,
    federations,
    image,
    keypairs,
    mservices,
    nodegroups,
    quotas,
    reference,
    root,
    stats,
)

ROUTERS = [root.router, reference.router, clustertemplates.router, clusters.router]
ROUTERS += [nodegroups.router, certificates.router, credentials.router]
ROUTERS += [quotas.router, stats.router, mservices.router, bays.router, baymodels.router]
ROUTERS += [containers.router, coe_objects.router, keypairs.router, federations.router]
ROUTERS += [compute.router, image.router]
