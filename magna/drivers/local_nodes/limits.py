"""A node's flavor as real limits: its cgroups cap the CPU and memory of everything the node
runs, on a cgroup v1 (or hybrid) host and on a cgroup v2 host alike.

This module is the one interface the node layer uses; each call reads the host's layout
(``magna.hostcheck.cgroups.unified``: ``cgroup2`` mounted at ``/sys/fs/cgroup`` itself) and
hands over to ``cgroups_v1.py`` (a cgroup per hierarchy) or ``cgroups_v2.py`` (one tree; the
engine and the containers in two leaves below the node). The numbers are the same on both
(``flavor_limits.py``): the node gets the flavor, its containers (``<node>/docker``) the flavor
minus an engine reserve, so a workload filling its memory meets the OOM killer without taking
the engine with it.

The engine's start (``engine.py``) runs ``enter_script`` (join the node's cgroups, enter a
cgroup namespace rooted at the node) and mounts ``seal_mounts`` inside the node; the agents a
driver runs beside the engine join ``procs_files``.
"""

from __future__ import annotations

from magna.drivers.catalog import Flavor
from magna.drivers.local_nodes import cgroups_v1, cgroups_v2
from magna.drivers.local_nodes.flavor_limits import MIB as MIB
from magna.drivers.local_nodes.flavor_limits import UNLIMITED as UNLIMITED
from magna.drivers.local_nodes.flavor_limits import WORKLOADS as WORKLOADS
from magna.drivers.local_nodes.flavor_limits import Limits as Limits
from magna.drivers.local_nodes.flavor_limits import for_flavor as for_flavor
from magna.drivers.local_nodes.flavor_limits import workloads_memory as workloads_memory
from magna.hostcheck.cgroups import Hierarchy as Hierarchy
from magna.hostcheck.cgroups import hierarchies as hierarchies
from magna.hostcheck.cgroups import unified

CONTROLLERS = ("cpu", "memory")  # the ones carrying a flavor's limits
path = cgroups_v1.path  # NOTE: a v1 path (``path("memory", cgroup)``), for v1 tests and tools


def ensure(cgroup: str, flavor: Flavor | None) -> Limits:
    """Create the node's cgroups and set the flavor's limits (in place on a running node)."""
    if unified():
        return cgroups_v2.ensure(cgroup, flavor)
    return cgroups_v1.ensure(cgroup, flavor)


def current(cgroup: str) -> Limits:
    if unified():
        return cgroups_v2.current(cgroup)
    return cgroups_v1.current(cgroup)


def prepare_start(cgroup: str) -> None:
    """Just before the node's engine starts (nothing of the node runs): what the start's
    ``enter_script`` needs of the node's cgroups (on v1, nothing)."""
    if unified():
        cgroups_v2.prepare_start(cgroup)


def enter_script(cgroup: str) -> str:
    """Shell for ``sh -c``: join the node's cgroups, enter a new cgroup namespace rooted at the
    node, then ``exec "$@"`` (the rest of the engine's start) in the same process."""
    if unified():
        return cgroups_v2.enter_script(cgroup)
    return cgroups_v1.enter_script(cgroup)


def seal_mounts() -> list[str]:
    """The ``cg:`` items of ``seal.sh``: the hierarchies the node mounts as its own view (on v2
    the one at /sys/fs/cgroup itself, its name empty)."""
    return [f"cg:{h.fstype}:{h.name}:{h.options}" for h in hierarchies()]


def procs_files(cgroup: str) -> list[str]:
    """The files a process writes its pid into to join the node (what agents beside the
    engine do before entering its namespaces)."""
    if unified():
        return cgroups_v2.procs_files(cgroup)
    return cgroups_v1.procs_files(cgroup)


def runs_in(pid: int, cgroup: str) -> bool:
    """The process runs where the node's engine does (v1: the node's cgroup; v2: its
    ``engine`` leaf)."""
    try:
        with open(f"/proc/{pid}/cgroup") as handle:
            lines = handle.read().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return False
    if unified():
        return cgroups_v2.runs_in(lines, cgroup)
    return cgroups_v1.runs_in(lines, cgroup)


def pids_in(cgroup: str) -> set[int]:
    """Every process in the node's cgroups or below them: the whole node (its engine,
    containerd, shims and every container), whatever namespaces those processes are in."""
    if unified():
        return cgroups_v2.pids_in(cgroup)
    return cgroups_v1.pids_in(cgroup)


def remove(cgroup: str) -> None:
    """Remove the cgroup and everything below it; one still holding processes stays and is
    retried on the next removal."""
    if unified():
        cgroups_v2.remove(cgroup)
    else:
        cgroups_v1.remove(cgroup)
