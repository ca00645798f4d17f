"""Scrape-time collectors: what a scrape shows for given counts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from magna.domain import clusters as lifecycle
from magna.metrics import collectors


def _scrape(collector: collectors.ClusterCollector | collectors.QueueCollector
            ) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {family.name: {tuple(sorted(s.labels.items())): s.value for s in family.samples}
            for family in text_string_to_metric_families(text)}


def test_clusters_by_status_and_health_with_every_value_present() -> None:
    counts = {("CREATE_COMPLETE", "HEALTHY"): 2, ("CREATE_COMPLETE", None): 1,
              ("CREATE_IN_PROGRESS", None): 3}
    found = _scrape(collectors.ClusterCollector(lambda: counts, statuses=lifecycle.ALL,
                                                healths=lifecycle.HEALTH_STATUSES))
    by_status = found["magna_clusters"]
    assert by_status[(("status", "CREATE_COMPLETE"),)] == 3
    assert by_status[(("status", "CREATE_IN_PROGRESS"),)] == 3
    assert by_status[(("status", "DELETE_FAILED"),)] == 0
    assert len(by_status) == len(lifecycle.ALL)
    assert found["magna_clusters_by_health"] == {
        (("health", "HEALTHY"),): 2, (("health", "UNHEALTHY"),): 0,
        (("health", "UNKNOWN"),): 0, (("health", "NONE"),): 4}


def test_queue_depth_is_read_at_each_scrape() -> None:
    depth = [0]
    collector = collectors.QueueCollector(lambda: depth[0])
    assert _scrape(collector)["magna_conductor_queue_depth"] == {(): 0}
    depth[0] = 5
    assert _scrape(collector)["magna_conductor_queue_depth"] == {(): 5}
