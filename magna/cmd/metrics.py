"""Which series each process exports, and on which port (``[metrics]``, docs/metrics.md).

- ``magna-api``: the API's request series (from the workers' directory with several workers)
  and the clusters by status and health, on ``[metrics] port``;
- ``magna serve``: the same plus its in-process conductor's series, on ``[metrics] port``;
- ``magna-conductor``: its queue, passes and driver calls, on ``[metrics] conductor_port``.

The cluster counts are the database's, the same from every API process: they are exported by
the API side only, so a deployment with one ``magna-api`` and several conductors counts each
cluster once. Each conductor exports its own endpoint (Prometheus tells them apart by
``instance``): conductors run on several hosts, where one directory could not gather them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from oslo_config import cfg
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from magna.conductor.service import Conductor
from magna.domain import clusters as lifecycle
from magna.metrics import collectors, exporter, series
from magna.services import Services, stats


def check(conf: cfg.ConfigOpts, *, option: str) -> None:
    """Read every ``[metrics]`` option and probe the port ``option`` names (``port`` or
    ``conductor_port``) at start, before the database is migrated and threads start, so a bad
    value or a taken port stops the process at once with the option named."""
    try:
        for name in ("host", "port", "conductor_port", "path"):
            getattr(conf.metrics, name)
    except ValueError as exc:
        raise SystemExit(f"[metrics] {exc}") from None
    port = conf.metrics[option]
    if port is not None:
        exporter.check_free(host=conf.metrics.host, port=port, option=option)


def cluster_collector(services: Services) -> collectors.ClusterCollector:
    return collectors.ClusterCollector(lambda: stats.clusters_by_status_health(services),
                                       statuses=lifecycle.ALL,
                                       healths=lifecycle.HEALTH_STATUSES)


def conductor_collectors(conductor: Conductor) -> list[Collector]:
    return [series.CONDUCTOR, collectors.QueueCollector(lambda: len(conductor.queue))]


@contextmanager
def api_exporter(conf: cfg.ConfigOpts, services: Services, *, conductor: Conductor | None,
                 multiprocess_dir: str | None) -> Iterator[exporter.Exporter | None]:
    """``[metrics] port``'s listener while the block runs (None when the port is unset).

    ``multiprocess_dir``: where the API workers write their series; None when the API serves
    in this process (its series are then in this process's memory)."""
    if conf.metrics.port is None:
        yield None
        return
    found: list[Collector] = [cluster_collector(services)]
    if multiprocess_dir is None:
        found.append(series.API)
    if conductor is not None:
        found.extend(conductor_collectors(conductor))
    registry = exporter.registry_of(found, multiprocess_dir=multiprocess_dir)
    with _running(conf, registry, port=conf.metrics.port, option="port") as running:
        yield running


@contextmanager
def conductor_exporter(conf: cfg.ConfigOpts, conductor: Conductor
                       ) -> Iterator[exporter.Exporter | None]:
    """``[metrics] conductor_port``'s listener for ``magna-conductor`` (None when unset)."""
    if conf.metrics.conductor_port is None:
        yield None
        return
    registry = exporter.registry_of(conductor_collectors(conductor))
    with _running(conf, registry, port=conf.metrics.conductor_port,
                  option="conductor_port") as running:
        yield running


@contextmanager
def _running(conf: cfg.ConfigOpts, registry: CollectorRegistry, *, port: int,
             option: str) -> Iterator[exporter.Exporter]:
    running = exporter.start(registry, host=conf.metrics.host, port=port,
                             path=conf.metrics.path, option=option)
    try:
        yield running
    finally:
        running.close()
