"""A node's flavor as real limits: its cgroup (v1) caps the CPU and memory of everything the
node runs.

Each node has the cgroup ``/magna/<short id>/<node>`` in the ``cpu`` and ``memory`` hierarchies
(the engine's ``cgroup-parent``). ``ensure`` creates it and writes the flavor's limits
(``cpu.cfs_quota_us = vcpus * cpu.cfs_period_us``, ``memory.limit_in_bytes = ram_mb MiB``);
writing again after a flavor change updates the limits of a running node in place. The engine's
start script joins the cgroup before it ``exec``s dockerd (``procs_files``), so dockerd,
containerd and, through ``cgroup-parent``, every container count against the node's limits.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass

from magna.common.exceptions import TemporaryError
from magna.drivers.catalog import Flavor

CGROUP_ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("cpu", "memory")
UNLIMITED = -1
MIB = 1024 * 1024


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


def path(controller: str, cgroup: str) -> str:
    return os.path.join(CGROUP_ROOT, controller, cgroup.lstrip("/"))


def procs_files(cgroup: str) -> list[str]:
    """The files a process writes its pid into to join the node's cgroup."""
    return [os.path.join(path(controller, cgroup), "cgroup.procs") for controller in CONTROLLERS]


def ensure(cgroup: str, flavor: Flavor | None) -> Limits:
    """Create the node's cgroups and set the flavor's limits (only the values that differ)."""
    for controller in CONTROLLERS:
        os.makedirs(path(controller, cgroup), exist_ok=True)
    period = int(_read(cgroup, "cpu", "cpu.cfs_period_us"))
    wanted = for_flavor(flavor, period)
    _write(cgroup, "cpu", "cpu.cfs_quota_us", wanted.cpu_quota_us)
    _write(cgroup, "memory", "memory.limit_in_bytes", wanted.memory_bytes)
    return wanted


def current(cgroup: str) -> Limits:
    """The limits the node's cgroups have now (memory: the kernel's "no limit" is a huge
    number, reported as ``UNLIMITED``)."""
    memory = int(_read(cgroup, "memory", "memory.limit_in_bytes"))
    return Limits(cpu_quota_us=int(_read(cgroup, "cpu", "cpu.cfs_quota_us")),
                  memory_bytes=UNLIMITED if memory >= 2 ** 62 else memory)


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
        if current(cgroup).memory_bytes == UNLIMITED:
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
