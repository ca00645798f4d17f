"""A node's cgroups on a cgroup v2 host: one tree, ``<root>/magna/<short id>/<node>``.

v2 has one rule v1 lacks: a cgroup that passes controllers to its children (its
``cgroup.subtree_control``) holds no process itself. So the node's cgroup holds none, and its
processes live in two leaves below it::

    magna/<short>            controllers passed down: +cpu +memory +pids
      <node>                 cpu.max, memory.max: the flavor; the node's cgroup namespace root
        engine               the engine, containerd, the agents (``procs_files``)
        docker               every container (the engine's default parent); memory.max: the
                             flavor minus the engine reserve, as on v1

``ensure`` creates the tree down to the node (each ancestor passing ``cpu memory pids``, those
its ``cgroup.controllers`` offers) and writes ``cpu.max`` (``"<vcpus * period> <period>"``) and
``memory.max`` (bytes or ``max``), again in place after a flavor change.

The engine's start (``enter_script``) must leave the node's cgroup as the root of the node's
cgroup namespace, yet no process in it. It joins the node's cgroup while that passes nothing
down (``prepare_start`` took its children and controllers away), enters a new cgroup namespace
(rooted there), moves itself into ``engine``, and only then turns on the node's controllers and
writes the workloads' ``memory.max``. Every step is by the process that becomes the node's
``unshare``, so nothing of the node is ever left in the node's own cgroup.

Every function takes the hierarchy's ``root``: the host's ``/sys/fs/cgroup``, or a directory
standing in for it in unit tests.
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
from magna.hostcheck.cgroups import ROOT, controllers

ENGINE = "engine"  # the leaf of the node's own programs, beside WORKLOADS
PASSED = ("cpu", "memory", "pids")  # what each level passes down, where offered
PERIOD_US = 100000
NO_LIMIT = "max"


def path(cgroup: str, *, root: str = ROOT) -> str:
    return os.path.join(root, cgroup.lstrip("/"))


def procs_files(cgroup: str, *, root: str = ROOT) -> list[str]:
    """The file a process writes its pid into to join the node: its ``engine`` leaf."""
    return [os.path.join(path(cgroup, root=root), ENGINE, "cgroup.procs")]


def runs_in(lines: list[str], cgroup: str) -> bool:
    """A process whose /proc/<pid>/cgroup is ``lines`` runs in the node's ``engine`` leaf."""
    return f"0::{cgroup}/{ENGINE}" in lines


def ensure(cgroup: str, flavor: Flavor | None, *, root: str = ROOT) -> Limits:
    """The node's cgroup with the flavor's limits (only the values that differ); the
    workloads' memory too while the engine runs (its start created that file)."""
    node = _make(cgroup, root=root)
    wanted = for_flavor(flavor, PERIOD_US)
    _write(node, "cpu.max", _cpu_max(wanted.cpu_quota_us))
    _write(node, "memory.max", _bytes(wanted.memory_bytes))
    workloads = os.path.join(node, WORKLOADS, "memory.max")
    if os.path.exists(workloads):
        _write(os.path.dirname(workloads), "memory.max", _bytes(workloads_memory(wanted)))
    return wanted


def _make(cgroup: str, *, root: str) -> str:
    """Create ``cgroup`` top-down, each ancestor first passing ``PASSED`` down; its path."""
    here = root
    for part in [part for part in cgroup.split("/") if part]:
        _pass_down(here)
        here = os.path.join(here, part)
        os.makedirs(here, exist_ok=True)
    return here


def _pass_down(directory: str) -> None:
    offered = controllers(directory)
    passed = set(_read(directory, "cgroup.subtree_control").split())
    missing = [name for name in PASSED if name in offered and name not in passed]
    if missing:
        _write(directory, "cgroup.subtree_control", " ".join(f"+{n}" for n in missing))


def prepare_start(cgroup: str, *, root: str = ROOT) -> None:
    """Before an engine start (the node's processes killed): the node's cgroup without children
    or controllers passed down, so the start can join it, then empty ``engine`` and
    ``docker`` leaves for it to move into."""
    node = path(cgroup, root=root)
    for directory, _, _ in os.walk(node, topdown=False):
        if directory != node:
            with contextlib.suppress(OSError):
                os.rmdir(directory)
    passed = _read(node, "cgroup.subtree_control").split()
    if passed:
        _write(node, "cgroup.subtree_control", " ".join(f"-{n}" for n in passed))
    for leaf in (ENGINE, WORKLOADS):
        os.makedirs(os.path.join(node, leaf), exist_ok=True)


def enter_script(cgroup: str, *, root: str = ROOT) -> str:
    """Shell: join the node's cgroup, enter a new cgroup namespace rooted there, move into
    ``engine``, pass the node's controllers down, cap the workloads, then run ``"$@"``."""
    node = path(cgroup, root=root)
    passed = [name for name in PASSED if name in controllers(node)]
    settle = [f"echo $$ > {shlex.quote(os.path.join(node, ENGINE, 'cgroup.procs'))}"]
    if passed:
        control = shlex.quote(os.path.join(node, "cgroup.subtree_control"))
        settle.append(f"echo {shlex.quote(' '.join('+' + n for n in passed))} > {control}")
    if "memory" in passed:
        workloads = _bytes(workloads_memory(current(cgroup, root=root)))
        target = shlex.quote(os.path.join(node, WORKLOADS, "memory.max"))
        settle.append(f"echo {workloads} > {target}")
    settle.append('exec "$@"')
    join = shlex.quote(os.path.join(node, "cgroup.procs"))
    return (f"echo $$ > {join} && "
            f'exec unshare --cgroup sh -c {shlex.quote(" && ".join(settle))} sh "$@"')


def current(cgroup: str, *, root: str = ROOT) -> Limits:
    """The limits the node's cgroup has now (``max`` reported as ``UNLIMITED``)."""
    node = path(cgroup, root=root)
    quota = _read(node, "cpu.max").split()[0]
    memory = _read(node, "memory.max")
    return Limits(cpu_quota_us=UNLIMITED if quota == NO_LIMIT else int(quota),
                  memory_bytes=UNLIMITED if memory == NO_LIMIT else int(memory))


def pids_in(cgroup: str, *, root: str = ROOT) -> set[int]:
    """Every process in the node's cgroup or below it."""
    found: set[int] = set()
    for directory, _, files in os.walk(path(cgroup, root=root)):
        if "cgroup.procs" in files:
            with contextlib.suppress(OSError, ValueError), \
                    open(os.path.join(directory, "cgroup.procs")) as handle:
                found.update(int(line) for line in handle.read().split())
    return found


def remove(cgroup: str, *, root: str = ROOT) -> None:
    """Remove the cgroup and everything below it (deepest first); one that still has processes
    stays (rmdir fails) and is retried on the next removal."""
    for directory, _, _ in os.walk(path(cgroup, root=root), topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def _cpu_max(quota_us: int) -> str:
    return f"{NO_LIMIT if quota_us == UNLIMITED else quota_us} {PERIOD_US}"


def _bytes(value: int) -> str:
    return NO_LIMIT if value == UNLIMITED else str(value)


def _read(directory: str, name: str) -> str:
    try:
        with open(os.path.join(directory, name)) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def _write(directory: str, name: str, value: str) -> None:
    if _read(directory, name) == value:
        return
    try:
        with open(os.path.join(directory, name), "w") as handle:
            handle.write(f"{value}\n")
    except OSError as exc:
        # NOTE: as on v1, a refusal that may pass (a busy cgroup) is retried, not a failure.
        if exc.errno in (errno.EBUSY, errno.EINVAL):
            raise TemporaryError(f"Cannot set {name} of {directory} to {value} yet: "
                                 f"{exc.strerror}.", delay=5.0) from None
        raise
