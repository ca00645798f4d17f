"""Removing a cluster's nodes from this host, and finding clusters whose removal is due.

``remove`` takes away processes, mounts, namespaces, veths, the bridge, its iptables rules,
cgroups, the seal plugin's sockets, the nodes' loop devices (``storage.release_cluster``), the
run dir and finally the state dir (the anchor: created first, removed last). Every step is
idempotent and works from names derived from the cluster id, not from records, so it also
cleans up after a crash that lost some of them.

``leftovers`` finds clusters to collect: directories in the driver's state root without a
database row, and clusters of any state root on this host whose state dir is gone (a test's
temporary directory, say) but whose run dir still names them (``network.OWNER_FILE``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import time

from magna.common import fanout, processes
from magna.drivers.local_nodes import (
    balancer,
    engine,
    fence,
    host,
    limits,
    network,
    registry,
    storage,
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ANY = ipaddress.IPv4Network("0.0.0.0/32")
# Namespaces, veths and node directories removed side by side (``fanout``).
REMOVE_WIDTH = 8


def remove(cluster_uuid: str, *, cluster_dir: str, run_dir: str, stop_timeout: float,
           authz_root: str | None = None) -> None:
    balancer.stop(balancer.Balancer(name="", listen="", backends=(), state_dir=cluster_dir,
                                    run_dir=run_dir))
    stop_processes(cluster_uuid, cluster_dir=cluster_dir, run_dir=run_dir,
                   timeout=stop_timeout)  # the registry's too
    registry.unguard(network.short_id(cluster_uuid))
    engine.unmount_under(cluster_dir)
    engine.unmount_under(run_dir)
    fanout.each(network.namespaces_of(cluster_uuid), _delete_netns, width=REMOVE_WIDTH)
    fanout.each(network.veths_of(cluster_uuid),
                lambda veth: host.probe("ip", "link", "del", veth), width=REMOVE_WIDTH)
    allocation = network.read_allocation(cluster_dir)
    bridge = network.bridge_name(cluster_uuid)
    if allocation is not None or os.path.exists(f"/sys/class/net/{bridge}"):
        network.Bridge(bridge, allocation or network.Allocation(_ANY)).delete()
    fence.remove(cluster_uuid)  # also every rule naming the bridge
    limits.remove(cluster_cgroup(cluster_uuid))
    engine.forget_authz(authz_root, f"magna-{network.short_id(cluster_uuid)}-", exact=False)
    storage.release_cluster(cluster_uuid)  # NOTE: before the images go: none outlives its file
    remove_tree(run_dir)
    remove_tree(cluster_dir)


def _delete_netns(netns: str) -> None:
    # NOTE: another process (a garbage collector elsewhere) may remove it first.
    if not host.probe("ip", "netns", "del", netns) and os.path.exists(
            os.path.join(network.NS_DIR, netns)):
        host.run("ip", "netns", "del", netns)


def remove_tree(path: str) -> None:
    """``path`` and everything below it, its subdirectories (the nodes') side by side first.

    NOTE: unlinking waits on the file system's journal far more than on the CPU: a hundred
    node directories of about 500 files each took 0.08-0.3 s apiece one after another, and
    eight at once removed them 6-10 times faster on this host."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        below = [entry.path for entry in os.scandir(path)
                 if entry.is_dir(follow_symlinks=False)]
        fanout.each(below, lambda sub: shutil.rmtree(sub, ignore_errors=True),
                    width=REMOVE_WIDTH)
    shutil.rmtree(path, ignore_errors=True)


def cluster_cgroup(cluster_uuid: str) -> str:
    """The cgroup under which every node of the cluster has its own (``limits.py``)."""
    return f"/magna/{network.short_id(cluster_uuid)}"


def stop_processes(cluster_uuid: str, *, cluster_dir: str, run_dir: str,
                   timeout: float) -> None:
    """SIGKILL everything of the cluster: the processes naming its directories (engines,
    containerd, registry, load balancer), those inside its namespaces and those in its
    cgroups (containers, whose shims may already be gone).

    NOTE: no graceful shutdown: the nodes are being destroyed with their data, and a
    dockerd given SIGTERM spends up to its shutdown timeout stopping containers and writes
    into its data root while it does (recreating a state dir that was just removed)."""
    deadline = time.monotonic() + max(5.0, timeout)
    while True:
        pids = set(engine.processes_using(cluster_dir, run_dir))
        pids |= limits.pids_in(cluster_cgroup(cluster_uuid))
        pids |= network.pids_in_namespaces(network.namespaces_of(cluster_uuid))
        pids = {pid for pid in pids if pid != os.getpid() and processes.alive(pid)}
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def leftovers(root: str, run_root: str, known_clusters: set[str]) -> list[str]:
    """Clusters in our state root without a row, and clusters of any state dir on this host
    whose state dir is gone (a test's temporary directory, say) but whose namespaces and
    bridge remain: the state dir is created first and removed last, so those are orphans."""
    found = set(orphans(run_root))
    if os.path.isdir(root):
        found |= {entry for entry in os.listdir(root) if UUID_RE.match(entry)}
    return sorted(found - known_clusters)


def orphans(run_root: str) -> list[str]:
    if not os.path.isdir(run_root):
        return []
    found = []
    for entry in os.listdir(run_root):
        with contextlib.suppress(OSError, ValueError, KeyError), \
                open(os.path.join(run_root, entry, network.OWNER_FILE)) as handle:
            owner = json.load(handle)
            if not os.path.isdir(owner["cluster_dir"]) and UUID_RE.match(owner["uuid"]):
                found.append(str(owner["uuid"]))
    return found
