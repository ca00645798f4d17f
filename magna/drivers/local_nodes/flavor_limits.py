"""A flavor in cgroup numbers (pure): what a node may use, and what of it its containers may.

Both cgroup layouts (``cgroups_v1.py``, ``cgroups_v2.py``) write these numbers, each in its
own files; ``limits.py`` picks the layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from magna.drivers.catalog import Flavor

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
