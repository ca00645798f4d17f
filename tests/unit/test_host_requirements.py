"""What the local drivers need of a host: the decisions, from what was read."""

from __future__ import annotations

from magna.hostcheck import requirements
from magna.hostcheck.cgroups import Hierarchy

V1 = [Hierarchy("cpu,cpuacct", "cgroup", "cpu,cpuacct"), Hierarchy("memory", "cgroup", "memory"),
      Hierarchy("systemd", "cgroup", "none,name=systemd"), Hierarchy("unified", "cgroup2", "")]
V2 = [Hierarchy("", "cgroup2", "")]


def test_root_is_uid_0() -> None:
    assert requirements.running_as_root(0).met
    refused = requirements.running_as_root(1000)
    assert not refused.met and "uid 1000" in refused.detail


def test_cgroup_v1_needs_cpu_and_memory_hierarchies() -> None:
    assert requirements.cgroup_layout(V1, set()) == requirements.Requirement(
        "cgroups", True, "cgroup v1 with the cpu and memory controllers.")
    without_memory = requirements.cgroup_layout([V1[0], V1[2]], set())
    assert not without_memory.met
    assert without_memory.detail == ("cgroup v1: the memory controller missing as hierarchies "
                                     "under /sys/fs/cgroup; flavors cannot be limits.")


def test_cgroup_v2_needs_cpu_and_memory_controllers() -> None:
    assert requirements.cgroup_layout(V2, {"cpu", "memory", "pids", "io"}).met
    lacking = requirements.cgroup_layout(V2, {"pids"})
    assert not lacking.met
    assert lacking.detail == ("cgroup v2: the cpu and memory controllers missing in "
                              "/sys/fs/cgroup/cgroup.controllers; flavors cannot be limits.")


def test_no_cgroups_at_all_is_missing() -> None:
    nothing = requirements.cgroup_layout([], set())
    assert not nothing.met and nothing.detail.startswith("no cgroup hierarchy under")


def test_missing_programs_are_named_with_their_packages() -> None:
    assert requirements.programs(lambda tool: True).met
    lacking = requirements.programs(lambda tool: tool not in ("haproxy", "nsenter", "unshare"))
    assert lacking == requirements.Requirement(
        "programs", False, "missing haproxy, nsenter, unshare: apt-get install haproxy "
                           "util-linux")


def test_every_tool_a_node_needs_is_checked() -> None:
    assert requirements.ENGINE_TOOLS.items() <= requirements.TOOLS.items()
