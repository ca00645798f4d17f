"""A node's flavor as real limits: its cgroup (v1) caps the CPU and memory of everything the
node runs.

Each node has the cgroup ``/magna/<short id>/<node>`` in EVERY mounted hierarchy (cpu, cpuacct,
cpuset, memory, devices, freezer, blkio, pids, name=systemd and the unified one): the engine's
start joins all of them (``procs_files``) and then enters a cgroup namespace, so the node's
engine sees that cgroup as ``/`` and nothing it starts can leave it. ``ensure`` creates the
cgroups (``cpuset.cpus``/``cpuset.mems`` copied down from the parent: a new cpuset is empty and
cannot be joined) and writes the flavor's limits (``cpu.cfs_quota_us = vcpus *
cpu.cfs_period_us``, ``memory.limit_in_bytes = ram_mb MiB``); writing again after a flavor change
updates the limits of a running node in place.

Below the node, ``<node>/docker`` in the memory hierarchy (where the engine's default cgroup
parent ``/docker`` lands inside the cgroup namespace) holds every container with the flavor's
memory minus an engine reserve (``engine_reserve``: 128 MiB or a quarter of the flavor, whichever
is smaller). A workload filling its memory then meets the OOM killer inside ``docker``, and the
engine, outside it, survives (without it the kernel picked dockerd as the node's largest task).
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass

from magna.common.exceptions import TemporaryError
from magna.drivers.catalog import Flavor

CGROUP_ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("cpu", "memory")  # the ones carrying a flavor's limits
WORKLOADS = "docker"  # the engine's default cgroup parent, relative to the node's cgroup
UNLIMITED = -1
MIB = 1024 * 1024
ENGINE_RESERVE = 128 * MIB


@dataclass(frozen=True)
class Limits:
    """What a flavor allows: a CFS quota per period (microseconds) and a memory cap (bytes);
    ``UNLIMITED`` for a node without a flavor."""

    cpu_quota_us: int
    memory_bytes: int


def for_flavor(flavor: Flavor | None, period_us: int) -> Limits:
    if flavor is None:
        return Limits(UNLIMITED, UNLIMITED)
    return Limits(cpu_quota_us=flavor.vcpus * period_us, memory_bytes=flavor.ram_mb * MIB)


def engine_reserve(memory_bytes: int) -> int:
    """What of a node's memory the workloads' cgroup leaves to the engine."""
    return min(ENGINE_RESERVE, memory_bytes // 4)


def workloads_memory(limits: Limits) -> int:
    if limits.memory_bytes == UNLIMITED:
        return UNLIMITED
    return limits.memory_bytes - engine_reserve(limits.memory_bytes)


def path(controller: str, cgroup: str) -> str:
    return os.path.join(CGROUP_ROOT, controller, cgroup.lstrip("/"))


@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy: where (``/sys/fs/cgroup/<name>``), which filesystem
    (``cgroup`` or ``cgroup2``) and the mount options naming it (``cpu``, ``none,name=systemd``)."""

    name: str
    fstype: str
    options: str


def hierarchies(mountinfo: str = "/proc/self/mountinfo") -> list[Hierarchy]:
    """Every cgroup hierarchy mounted under ``CGROUP_ROOT``, as /proc/self/mountinfo says."""
    found = []
    with open(mountinfo) as handle:
        for line in handle:
            head, _, tail = line.partition(" - ")
            point = head.split()[4]
            fstype, _, superopts = [*tail.split(), "", "", ""][:3]
            if fstype not in ("cgroup", "cgroup2") or os.path.dirname(point) != CGROUP_ROOT:
                continue
            options = [opt for opt in superopts.split(",") if opt not in ("rw", "ro")]
            if fstype == "cgroup" and all(opt.startswith("name=") for opt in options):
                options.insert(0, "none")  # NOTE: a named hierarchy without controllers
            found.append(Hierarchy(os.path.basename(point), fstype, ",".join(options)))
    return found


def procs_files(cgroup: str) -> list[str]:
    """The files a process writes its pid into to join the node's cgroup, in every hierarchy."""
    return [os.path.join(path(h.name, cgroup), "cgroup.procs") for h in hierarchies()]


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
    if not os.path.isdir(CGROUP_ROOT):
        return found
    for controller in os.listdir(CGROUP_ROOT):
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
    if not os.path.isdir(CGROUP_ROOT):
        return
    for controller in os.listdir(CGROUP_ROOT):
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
