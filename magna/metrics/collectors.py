"""Series computed when Prometheus scrapes, from whatever the process can read cheaply then.

``ClusterCollector`` asks a callable for cluster counts by (status, health), which the caller
answers with one ``GROUP BY`` query (``services.stats.clusters_by_status_health``): nothing
is kept between scrapes, so the numbers are exactly what the database holds. Every known
status and health is always present (zero when no cluster has it), so a graph's line drops to
0 instead of vanishing. ``QueueCollector`` reads the conductor's work queue length.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LOG = logging.getLogger(__name__)

#: The health label of a cluster whose health was never observed (the API shows null).
NO_HEALTH = "NONE"

StatusHealthCounts = Mapping[tuple[str, str | None], int]


class ClusterCollector(Collector):
    """``magna_clusters{status}`` and ``magna_clusters_by_health{health}``."""

    def __init__(self, count: Callable[[], StatusHealthCounts], *, statuses: Iterable[str],
                 healths: Iterable[str]) -> None:
        self._count = count
        self._statuses = tuple(statuses)
        self._healths = (*healths, NO_HEALTH)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status: Counter[str] = Counter({status: 0 for status in self._statuses})
        by_health: Counter[str] = Counter({health: 0 for health in self._healths})
        for (status, health), count in self._count().items():
            by_status[status] += count
            by_health[health or NO_HEALTH] += count
        yield _family("magna_clusters", "Clusters in the database, by status.", "status",
                      by_status)
        yield _family("magna_clusters_by_health",
                      "Clusters in the database, by health status (NONE: not yet observed).",
                      "health", by_health)


class QueueCollector(Collector):
    """``magna_conductor_queue_depth``: work items waiting in this conductor's queue."""

    def __init__(self, depth: Callable[[], int]) -> None:
        self._depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "magna_conductor_queue_depth",
            "Work items (cluster and container passes) waiting in this conductor's queue, "
            "not counting those being worked on.", value=self._depth())


def _family(name: str, documentation: str, label: str,
            counts: Mapping[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family
