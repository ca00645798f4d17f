"""One large swarm-mode cluster (1+99 nodes by default) as a user makes it: through the API of a
real ``magna serve``, one template, ``master_count 1``, ``node_count 99``.

Measured: seconds from the create request to ``CREATE_COMPLETE``; memory per node a few seconds
after (RSS and PSS of every process in the cluster's cgroups, as the cost suite reads it);
seconds from the delete request until the cluster is gone. Besides: the host's load before the
run (on two cores, a hundred engines starting compete with everything else), the kernel's
neighbour table (entries once the cluster formed, and how often it was full during the run: a
cluster this size overflowed the kernel's default limits, see ``local_nodes/neighbours.py``),
and the CPU time the nodes spent (their cgroup's ``cpuacct.usage`` on cgroups v1, ``cpu.stat``
on v2), which bounds the create on this machine's cores whatever the driver does.

Not a test, and not in the bench smoke test: one run takes minutes and about 10 GiB. The
cluster is deleted when the suite ends, also on error (``clusters.fleet``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench import clusters, cost, lifecycle
from bench.settings import Settings
from bench.stats import target

ARP_STATS = "/proc/net/stat/arp_cache"
SETTLE_S = 5.0


def neighbour_table() -> dict[str, int]:
    """The kernel's IPv4 neighbour table: entries now (every namespace's) and how often it was
    full since boot (summed over CPUs)."""
    with open(ARP_STATS) as handle:
        header, *rows = [line.split() for line in handle]
    fields = [{name: int(value, 16) for name, value in zip(header, row, strict=True)}
              for row in rows]
    return {"entries": fields[0]["entries"] if fields else 0,
            "table_fulls": sum(row["table_fulls"] for row in fields)}


def nodes_cpu_s(short: str) -> float | None:
    """CPU seconds every process of the cluster's nodes used so far; None when unreadable."""
    for path, scale in ((f"/sys/fs/cgroup/cpuacct/magna/{short}/cpuacct.usage", 1e9),
                        (f"/sys/fs/cgroup/magna/{short}/cpu.stat", 1e6)):
        try:
            with open(path) as handle:
                text = handle.read()
        except OSError:
            continue
        value = text.split()[1] if text.startswith("usage_usec") else text.split()[0]
        return round(int(value) / scale, 1)
    return None


def run(settings: Settings) -> dict[str, Any]:
    from magna.drivers.local_nodes import network

    masters, workers = 1, settings.scale_workers
    nodes = masters + workers
    load = os.getloadavg()[0]
    fulls_before = neighbour_table()["table_fulls"]
    with lifecycle.serve(settings, "scale-") as srv, \
            clusters.fleet(srv, timeout=settings.scale_timeout) as fleet:
        fleet.make_template()
        uuid, create_s = fleet.create(f"scale-{nodes}", masters, workers)
        cpu_s = nodes_cpu_s(network.short_id(uuid))
        time.sleep(SETTLE_S)
        rss, pss = cost._engine_memory(uuid)
        table = neighbour_table()
        delete_s = fleet.delete(uuid)
    pss_per_node = round(pss / nodes, 1)
    return {"masters": masters, "workers": workers, "load_before": round(load, 2),
            "create_s": round(create_s, 2), "delete_s": round(delete_s, 2),
            "nodes_cpu_s_at_create": cpu_s,
            "rss_mib_per_node": round(rss / nodes, 1), "pss_mib_per_node": pss_per_node,
            "neighbour_entries": table["entries"],
            "neighbour_table_full_during_run": table["table_fulls"] - fulls_before,
            "targets": [target(f"create 1+{workers}", round(create_s, 2), 60, "s"),
                        target(f"PSS per node, 1+{workers}", pss_per_node, 60, "MiB"),
                        target(f"delete 1+{workers}", round(delete_s, 2), 10, "s")]}
