"""What Magna costs: control-plane memory idle and with many clusters, memory per idle node,
and create time as a cluster grows.

The control plane is one ``magna serve`` process (API plus conductor). Node memory is read two
ways: the resident (RSS) and proportional (PSS: shared pages split between the processes that
map them) memory of every process in each node's cgroup (its engine, containerd and the
sealed node's docker-init), and the change in the host's
used memory across the create (noisy on a shared machine).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import psutil

from bench import clusters, lifecycle, seed
from bench.load import HEADERS
from bench.server import Server
from bench.settings import Settings

SETTLE_S = 3.0


def _engine_memory(cluster_uuid: str) -> tuple[float, float]:
    """(RSS, PSS) in MiB of every process of one cluster's nodes: each node's cgroup holds its
    whole node (docker-init, dockerd, containerd, shims), whatever its command lines say."""
    from magna.drivers.local_nodes import limits, network

    rss = pss = 0
    for pid in limits.pids_in(f"/magna/{network.short_id(cluster_uuid)}"):
        try:
            info = psutil.Process(pid).memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 2**20, pss / 2**20


def _list_all(srv: Server) -> int:
    """Every cluster, following the ``next`` links a page of 1000 at a time."""
    seen, url = 0, f"{srv.url}/v1/clusters?limit=1000"
    with httpx.Client(headers=HEADERS, timeout=120) as client:
        while url:
            body = client.get(url).json()
            seen += len(body["clusters"])
            url = body.get("next") or ""
    return seen


def _control_plane(srv: Server, settings: Settings) -> dict[str, Any]:
    time.sleep(SETTLE_S)
    idle = srv.rss_mib()
    seed.seed(f"sqlite:///{srv.state_dir / 'magna.db'}", settings.cost_clusters, 10)
    listed = _list_all(srv)
    time.sleep(SETTLE_S)
    return {"idle_rss_mib": idle, "clusters_in_db": settings.cost_clusters,
            "clusters_listed": listed, "rss_after_listing_mib": srv.rss_mib()}


def _nodes(srv: Server, settings: Settings) -> list[dict[str, Any]]:
    rows = []
    with clusters.fleet(srv) as fleet:
        fleet.make_template()
        for workers in settings.cost_workers:
            used_before = psutil.virtual_memory().used
            uuid, took = fleet.create(f"cost-{workers}", 1, workers)
            time.sleep(SETTLE_S)
            rss, pss = _engine_memory(uuid)
            nodes = 1 + workers
            rows.append({
                "masters": 1, "workers": workers, "nodes": nodes, "create_s": round(took, 3),
                "engine_rss_mib_per_node": round(rss / nodes, 1),
                "engine_pss_mib_per_node": round(pss / nodes, 1),
                "host_used_delta_mib_per_node": round(
                    (psutil.virtual_memory().used - used_before) / 2**20 / nodes, 1),
                "control_plane_rss_mib": srv.rss_mib()})
            fleet.delete(uuid)
    return rows


def run(settings: Settings) -> dict[str, Any]:
    with lifecycle.serve(settings, "cost-") as srv:
        control = _control_plane(srv, settings)
        nodes = _nodes(srv, settings)
    return {"control_plane": control, "per_node": nodes}
