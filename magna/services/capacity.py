"""Whether a cluster of the size a request asks for can exist at all, asked when it is asked.

A count no driver could build (a local Swarm cluster larger than its subnet) or no column could
hold must be a 400 at the API, not a ``CREATE_FAILED`` minutes later. The cluster services sum
the nodes the cluster would have after the change; the driver answers through
``Driver.check_size``, and its refusal becomes ``Invalid`` with the driver's own words.
"""

from __future__ import annotations

from collections.abc import Iterable

from magna.common.exceptions import Invalid, PermanentError
from magna.db import models
from magna.domain import clusters as lifecycle
from magna.drivers.base import Driver

# NOTE: counts are 32-bit integer columns; beyond this PostgreSQL refuses the row (a 500).
MAX_COUNT = 2**31 - 1


def check(driver: Driver, nodes: int) -> None:
    if nodes > MAX_COUNT:
        raise Invalid(f"A cluster of {nodes} nodes is impossible: counts may not exceed "
                      f"{MAX_COUNT}.")
    try:
        driver.check_size(nodes)
    except PermanentError as exc:
        raise Invalid(exc.message) from None


def total(nodegroups: Iterable[models.NodeGroup], *, changed: models.NodeGroup | None = None,
          count: int = 0, added: int = 0) -> int:
    """Nodes of the cluster's present nodegroups once ``changed`` has ``count`` nodes and a
    new nodegroup of ``added`` nodes exists."""
    nodes = sum(ng.node_count for ng in nodegroups
                if ng.desired_state != lifecycle.ABSENT and ng is not changed)
    return nodes + added + (count if changed is not None else 0)
