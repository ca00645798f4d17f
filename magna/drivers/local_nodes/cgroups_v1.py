"""A node's cgroups on a cgroup v1 (or hybrid) host: one directory per hierarchy.

Each node has the cgroup ``/magna/<short id>/<node>`` in EVERY mounted hierarchy (cpu, cpuacct,
cpuset, memory, devices, freezer, blkio, pids, name=systemd and the unified one): the engine's
start joins all of them (``enter_script``) and then enters a cgroup namespace, so the node's
engine sees that cgroup as ``/`` and nothing it starts can leave it. ``ensure`` creates the
cgroups (``cpuset.cpus``/``cpuset.mems`` copied down from the parent: a new cpuset is empty and
cannot be joined) and writes the flavor's limits (``cpu.cfs_quota_us = vcpus *
cpu.cfs_period_us``, ``memory.limit_in_bytes = ram_mb MiB``); writing again after a flavor change
updates the limits of a running node in place.

Below the node, ``<node>/docker`` in the memory hierarchy (where the engine's default cgroup
parent ``/docker`` lands inside the cgroup namespace) holds every container with the flavor's
memory minus an engine reserve (``flavor_limits.engine_reserve``). A workload filling its memory
then meets the OOM killer inside ``docker``, and the engine, outside it, survives (without it
the kernel picked dockerd as the node's largest task).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex

from magna.common.exceptions import TemporaryError
from magna.drivers.catalog import Flavor
from magna.drivers.local_nodes.flavor_limits import (
    UNLIMITED,
    WORKLOADS,
    Limits,
    for_flavor,
    workloads_memory,
)
from magna.hostcheck.cgroups import ROOT, hierarchies


def path(controller: str, cgroup: str) -> str:
    return os.path.join(ROOT, controller, cgroup.lstrip("/"))


def procs_files(cgroup: str) -> list[str]:
    """The files a process writes its pid into to join the node's cgroup, in every hierarchy."""
    return [os.path.join(path(h.name, cgroup), "cgroup.procs") for h in hierarchies()]


def enter_script(cgroup: str) -> str:
    """Shell: join the node's cgroup in every hierarchy, then run ``"$@"`` in a new cgroup
    namespace rooted there."""
    files = shlex.join(procs_files(cgroup))
    return (f'for procs in {files}; do echo $$ > "$procs" || exit 1; done && '
            'exec unshare --cgroup "$@"')


def runs_in(lines: list[str], cgroup: str) -> bool:
    """A process whose /proc/<pid>/cgroup is ``lines`` runs in the node's cgroup itself."""
    return any(line.split(":", 2)[1:] == ["memory", cgroup] for line in lines)


def ensure(cgroup: str, flavor: Flavor | None) -> Limits:
    """Create the node's cgroups in every hierarchy and set the flavor's limits (only the values
    that differ), the workloads' memory cgroup below the node's included."""
    for hierarchy in hierarchies():
        _make(hierarchy.name, cgroup)
    _make("memory", f"{cgroup}/{WORKLOADS}")
    period = int(_read(cgroup, "cpu", "cpu.cfs_period_us"))
    wanted = for_flavor(flavor, period)
    _write(cgroup, "cpu", "cpu.cfs_quota_us", wanted.cpu_quota_us)
    # NOTE: v1 takes a child's limit above its parent's (the parent's then holds), so the
    # order of these two writes does not matter when a flavor grows or shrinks.
    _write(cgroup, "memory", "memory.limit_in_bytes", wanted.memory_bytes)
    _write(f"{cgroup}/{WORKLOADS}", "memory", "memory.limit_in_bytes", workloads_memory(wanted))
    return wanted


def _make(controller: str, cgroup: str) -> None:
    """Create ``cgroup`` and its parents; in ``cpuset`` copy cpus and mems down at each level
    (a new cpuset has none, and a process cannot join it)."""
    os.makedirs(path(controller, cgroup), exist_ok=True)
    if controller != "cpuset":
        return
    parts = [part for part in cgroup.split("/") if part]
    for depth in range(1, len(parts) + 1):
        here, parent = "/".join(parts[:depth]), "/".join(parts[:depth - 1])
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not _read(here, controller, name):
                with open(os.path.join(path(controller, here), name), "w") as handle:
                    handle.write(_read(parent, controller, name) + "\n")


def _memory(cgroup: str) -> int:
    value = int(_read(cgroup, "memory", "memory.limit_in_bytes"))
    return UNLIMITED if value >= 2 ** 62 else value


def current(cgroup: str) -> Limits:
    """The limits the node's cgroups have now (memory: the kernel's "no limit" is a huge
    number, reported as ``UNLIMITED``)."""
    return Limits(cpu_quota_us=int(_read(cgroup, "cpu", "cpu.cfs_quota_us")),
                  memory_bytes=_memory(cgroup))


def pids_in(cgroup: str) -> set[int]:
    """Every process in the cgroup or below it, in any hierarchy: the whole node (its engine,
    containerd, shims and every container), whatever namespaces those processes are in."""
    found: set[int] = set()
    if not os.path.isdir(ROOT):
        return found
    for controller in os.listdir(ROOT):
        for directory, _, files in os.walk(path(controller, cgroup)):
            if "cgroup.procs" not in files:
                continue
            with contextlib.suppress(OSError, ValueError), \
                    open(os.path.join(directory, "cgroup.procs")) as handle:
                found.update(int(line) for line in handle.read().split())
    return found


def remove(cgroup: str) -> None:
    """Remove the cgroup and everything below it in every hierarchy (deepest first); a cgroup
    that still has processes stays (rmdir fails) and is retried on the next removal."""
    if not os.path.isdir(ROOT):
        return
    for controller in os.listdir(ROOT):
        top = path(controller, cgroup)
        if not os.path.isdir(top):
            continue
        for directory, _, _ in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def _read(cgroup: str, controller: str, name: str) -> str:
    with open(os.path.join(path(controller, cgroup), name)) as handle:
        return handle.read().strip()


def _write(cgroup: str, controller: str, name: str, value: int) -> None:
    if value == UNLIMITED and name == "memory.limit_in_bytes":
        if _memory(cgroup) == UNLIMITED:
            return
    elif int(_read(cgroup, controller, name)) == value:
        return
    try:
        with open(os.path.join(path(controller, cgroup), name), "w") as handle:
            handle.write(f"{value}\n")
    except OSError as exc:
        # NOTE: EBUSY: the node uses more memory than the smaller flavor allows; EINVAL: a
        # container's own CPU limit exceeds the new quota. Both may resolve; say so and retry.
        if exc.errno in (errno.EBUSY, errno.EINVAL):
            raise TemporaryError(f"Cannot set {name} of {cgroup} to {value} yet: "
                                 f"{exc.strerror}.", delay=5.0) from None
        raise
