"""Which cgroup layout this host has, as /proc/self/mountinfo says.

Two layouts exist: v1 (or "hybrid"), one directory per hierarchy under ``/sys/fs/cgroup``
(``cpu,cpuacct``, ``memory``, ``name=systemd``, maybe a ``unified`` cgroup2 beside them), and v2
("unified"), a single ``cgroup2`` mounted at ``/sys/fs/cgroup`` itself, the default of Debian 12.
The node layer's limits (``drivers/local_nodes/limits.py``) and the host requirements
(``requirements.py``) both decide from here; the answer is read again at each call, never kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ROOT = "/sys/fs/cgroup"
MOUNTINFO = "/proc/self/mountinfo"


@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy: where (``/sys/fs/cgroup/<name>``, ``name`` empty for the v2
    hierarchy at ``/sys/fs/cgroup`` itself), which filesystem (``cgroup`` or ``cgroup2``) and the
    mount options naming it (``cpu``, ``none,name=systemd``)."""

    name: str
    fstype: str
    options: str


def hierarchies(mountinfo: str = MOUNTINFO) -> list[Hierarchy]:
    """Every cgroup hierarchy mounted at or directly under ``ROOT``."""
    found = []
    for point, fstype, superopts in _cgroup_mounts(mountinfo):
        if point == ROOT and fstype == "cgroup2":
            # NOTE: no options: those of the host's mount (nsdelegate, ...) are the init
            # namespace's to set, and a node mounting its own view must not ask for them.
            found.append(Hierarchy("", fstype, ""))
        elif os.path.dirname(point) == ROOT:
            found.append(Hierarchy(os.path.basename(point), fstype, _options(fstype, superopts)))
    return found


def unified(mountinfo: str = MOUNTINFO) -> bool:
    """True on a cgroup v2 host: ``cgroup2`` is mounted at ``ROOT`` itself."""
    return any(h.name == "" for h in hierarchies(mountinfo))


def controllers(root: str = ROOT) -> set[str]:
    """The controllers a v2 hierarchy offers below ``root`` (its ``cgroup.controllers``)."""
    try:
        with open(os.path.join(root, "cgroup.controllers")) as handle:
            return set(handle.read().split())
    except FileNotFoundError:
        return set()


def _cgroup_mounts(mountinfo: str) -> list[tuple[str, str, str]]:
    """(mount point, filesystem, super options) of each cgroup or cgroup2 mount."""
    found = []
    with open(mountinfo) as handle:
        for line in handle:
            head, _, tail = line.partition(" - ")
            fstype, _, superopts = [*tail.split(), "", "", ""][:3]
            if fstype in ("cgroup", "cgroup2"):
                found.append((head.split()[4], fstype, superopts))
    return found


def _options(fstype: str, superopts: str) -> str:
    options = [opt for opt in superopts.split(",") if opt not in ("rw", "ro")]
    if fstype == "cgroup" and all(opt.startswith("name=") for opt in options):
        options.insert(0, "none")  # NOTE: a named hierarchy without controllers
    return ",".join(options)
