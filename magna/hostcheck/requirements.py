"""What the local drivers need of the machine they build nodes on, checked on this machine.

Each ``Requirement`` is met or not, with one sentence saying what was found or what is missing
(and how to get it). ``check()`` runs them all, reading the machine (``/proc``, ``/sys``) and
asking harmless commands (``ip netns list``, ``iptables -S``, ``losetup -f``): nothing is
changed. The conductor logs the missing ones at start; ``magna status`` shows all of them for
the machine it runs on. The decisions (which cgroup layouts do, which programs are missing) are
pure functions of what was read, for tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from magna.hostcheck import cgroups

# NOTE: what every node needs (``drivers/local_nodes/host.require_tools`` refuses to build
# without these), then what a cluster's registry, load balancer and volumes need.
ENGINE_TOOLS = {
    "dockerd": "docker.io",
    "containerd": "containerd",
    "ip": "iproute2",
    "iptables": "iptables",
    "nsenter": "util-linux",
    "unshare": "util-linux",
}
TOOLS = {
    **ENGINE_TOOLS,
    "iptables-restore": "iptables",
    "haproxy": "haproxy",
    "docker-registry": "docker-registry",
    "busybox": "busybox-static",
    "losetup": "mount",
}
SEARCH_PATH = ":/usr/sbin:/sbin"
LIMITED = ("cpu", "memory")  # the controllers carrying a flavor's limits


@dataclass(frozen=True)
class Requirement:
    name: str
    met: bool
    detail: str  # one sentence: what was found, or what is missing


def check() -> list[Requirement]:
    """Every requirement, checked on this machine."""
    return [running_as_root(os.geteuid()), network_namespaces(), iptables(),
            cgroup_layout(cgroups.hierarchies(), cgroups.controllers()), loop_devices(),
            programs(which)]


def missing() -> list[Requirement]:
    return [req for req in check() if not req.met]


def running_as_root(uid: int) -> Requirement:
    if uid == 0:
        return Requirement("root", True, "Magna runs as root.")
    return Requirement("root", False, f"Magna runs as uid {uid}; the local drivers need root "
                                      "(namespaces, cgroups, iptables, mounts).")


def network_namespaces() -> Requirement:
    return _command("network namespaces", ["ip", "netns", "list"], "ip netns works.")


def iptables() -> Requirement:
    return _command("iptables", ["iptables", "-w", "-S", "FORWARD"],
                    "iptables reads the filter table.")


def loop_devices() -> Requirement:
    works, text = _run(["losetup", "-f"])
    if works:
        return Requirement("loop devices", True, f"losetup -f finds {text}.")
    return Requirement("loop devices", False, f"losetup -f finds no free loop device: {text}")


def cgroup_layout(hierarchies: Sequence[cgroups.Hierarchy],
                  v2_controllers: set[str]) -> Requirement:
    """v2 (one hierarchy at /sys/fs/cgroup) with the cpu and memory controllers available, or
    v1 with cpu and memory hierarchies mounted under /sys/fs/cgroup."""
    if any(h.name == "" for h in hierarchies):
        lacking = [name for name in LIMITED if name not in v2_controllers]
        found = "cgroup v2"
        where = "in /sys/fs/cgroup/cgroup.controllers"
    else:
        mounted = {opt for h in hierarchies if h.fstype == "cgroup" for opt in h.options.split(",")}
        lacking = [name for name in LIMITED if name not in mounted]
        found = "cgroup v1" if hierarchies else "no cgroup hierarchy under /sys/fs/cgroup"
        where = "as hierarchies under /sys/fs/cgroup"
    if lacking:
        return Requirement("cgroups", False, f"{found}: the {' and '.join(lacking)} "
                                             f"controller{'s' * (len(lacking) > 1)} missing "
                                             f"{where}; flavors cannot be limits.")
    return Requirement("cgroups", True, f"{found} with the cpu and memory controllers.")


def programs(find: Callable[[str], bool]) -> Requirement:
    """The programs the local drivers call; missing ones named with their Debian packages."""
    absent = sorted(tool for tool in TOOLS if not find(tool))
    if not absent:
        return Requirement("programs", True, f"found {', '.join(sorted(TOOLS))}.")
    packages = " ".join(sorted({TOOLS[tool] for tool in absent}))
    return Requirement("programs", False, f"missing {', '.join(absent)}: apt-get install "
                                          f"{packages}")


def which(tool: str) -> bool:
    return shutil.which(tool, path=os.environ.get("PATH", "") + SEARCH_PATH) is not None


def _command(name: str, argv: list[str], works: str) -> Requirement:
    ok, text = _run(argv)
    if ok:
        return Requirement(name, True, works)
    return Requirement(name, False, f"{' '.join(argv)} fails: {text}")


def _run(argv: list[str]) -> tuple[bool, str]:
    """Whether a command succeeds, with the first word of its output, or why it failed."""
    if not which(argv[0]):
        return False, f"{argv[0]} is not installed."
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30,
                              env={**os.environ,
                                   "PATH": os.environ.get("PATH", "") + SEARCH_PATH})
    except subprocess.TimeoutExpired:
        return False, "no answer within 30 seconds."
    if done.returncode != 0:
        return False, " ".join(done.stderr.split()) or f"exit status {done.returncode}."
    return True, next(iter(done.stdout.split()), "")
