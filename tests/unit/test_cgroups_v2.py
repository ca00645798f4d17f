"""Flavor limits on a cgroup v2 host, against a directory standing in for /sys/fs/cgroup (this
host is v1, so the kernel's files are made by hand: cgroup.controllers, cgroup.subtree_control,
cpu.max, memory.max, cgroup.procs); and the layout read from mountinfo."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from magna.drivers.catalog import Flavor
from magna.drivers.local_nodes import cgroups_v2
from magna.drivers.local_nodes.flavor_limits import MIB, UNLIMITED, Limits
from magna.hostcheck import cgroups

NODE = "/magna/abc123/default-worker-0"
SMALL = Flavor(id="m1.small", name="m1.small", vcpus=2, ram_mb=512, disk_gb=10)


def make_cgroup(directory: Path, offered: str, **files: str) -> Path:
    """A cgroup as the kernel shows it: what its parent passes down, nothing passed on yet."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cgroup.controllers").write_text(offered + "\n")
    for name, text in {"cgroup.subtree_control": "", "cgroup.procs": "", **files}.items():
        (directory / name).write_text(text + "\n" if text else "")
    return directory


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_cgroup(tmp_path, "cpuset cpu io memory hugetlb pids")
    for cgroup in ("/magna", "/magna/abc123"):
        make_cgroup(tmp_path / cgroup.lstrip("/"), "cpu memory pids")
    make_cgroup(tmp_path / NODE.lstrip("/"), "cpu memory pids", **{
        "cpu.max": "max 100000", "memory.max": "max"})
    return tmp_path


def read(root: Path, cgroup: str, name: str) -> str:
    return (root / cgroup.lstrip("/") / name).read_text().strip()


def test_ensure_passes_controllers_down_to_the_node_and_writes_the_flavor(root: Path) -> None:
    assert cgroups_v2.ensure(NODE, SMALL, root=str(root)) == Limits(200000, 512 * MIB)
    for ancestor in ("/", "/magna", "/magna/abc123"):
        assert read(root, ancestor, "cgroup.subtree_control") == "+cpu +memory +pids"
    # NOTE: the node itself passes nothing down until its engine has moved into a leaf.
    assert read(root, NODE, "cgroup.subtree_control") == ""
    assert read(root, NODE, "cpu.max") == "200000 100000"
    assert read(root, NODE, "memory.max") == str(512 * MIB)
    assert not (root / NODE.lstrip("/") / "docker").exists()


def test_a_node_without_flavor_has_no_limits(root: Path) -> None:
    (root / NODE.lstrip("/") / "cpu.max").write_text("100000 100000\n")
    assert cgroups_v2.ensure(NODE, None, root=str(root)) == Limits(UNLIMITED, UNLIMITED)
    assert read(root, NODE, "cpu.max") == "max 100000"
    assert read(root, NODE, "memory.max") == "max"
    assert cgroups_v2.current(NODE, root=str(root)) == Limits(UNLIMITED, UNLIMITED)


def test_a_running_nodes_workloads_get_the_new_flavor_minus_the_reserve(root: Path) -> None:
    make_cgroup(root / NODE.lstrip("/") / "docker", "cpu memory pids", **{"memory.max": "max"})
    cgroups_v2.ensure(NODE, SMALL, root=str(root))
    assert read(root, f"{NODE}/docker", "memory.max") == str(384 * MIB)
    assert cgroups_v2.current(NODE, root=str(root)) == Limits(200000, 512 * MIB)


def test_the_controllers_offered_are_the_only_ones_passed(tmp_path: Path) -> None:
    make_cgroup(tmp_path, "cpu pids")
    cgroups_v2.ensure("/magna", None, root=str(tmp_path))
    assert read(tmp_path, "/", "cgroup.subtree_control") == "+cpu +pids"


def test_before_a_start_the_node_passes_nothing_down_and_has_two_leaves(root: Path) -> None:
    (root / NODE.lstrip("/") / "cgroup.subtree_control").write_text("cpu memory pids\n")
    cgroups_v2.prepare_start(NODE, root=str(root))
    assert read(root, NODE, "cgroup.subtree_control") == "-cpu -memory -pids"
    assert (root / NODE.lstrip("/") / "engine").is_dir()
    assert (root / NODE.lstrip("/") / "docker").is_dir()


def test_the_start_joins_the_node_then_its_engine_leaf_and_caps_the_workloads(
        root: Path) -> None:
    """The script runs for real (its ``unshare --cgroup`` too), writing into the fake tree."""
    cgroups_v2.ensure(NODE, SMALL, root=str(root))
    cgroups_v2.prepare_start(NODE, root=str(root))
    script = cgroups_v2.enter_script(NODE, root=str(root))
    done = subprocess.run(["sh", "-c", script, "sh", "sh", "-c", "echo $$"],
                          capture_output=True, text=True, check=True)
    pid = done.stdout.strip()
    assert read(root, NODE, "cgroup.procs") == pid  # where the cgroup namespace was made
    assert read(root, f"{NODE}/engine", "cgroup.procs") == pid  # where it stays
    assert read(root, NODE, "cgroup.subtree_control") == "+cpu +memory +pids"
    assert read(root, f"{NODE}/docker", "memory.max") == str(384 * MIB)


def test_an_engine_runs_in_the_nodes_engine_leaf() -> None:
    assert cgroups_v2.runs_in([f"0::{NODE}/engine"], NODE)
    assert not cgroups_v2.runs_in([f"0::{NODE}"], NODE)
    assert not cgroups_v2.runs_in([f"0::{NODE}/docker/abc"], NODE)
    assert cgroups_v2.procs_files(NODE, root="/r") == [f"/r{NODE}/engine/cgroup.procs"]


def test_pids_are_found_anywhere_below_the_node_and_removal_takes_the_tree(
        tmp_path: Path) -> None:
    node = tmp_path / NODE.lstrip("/")
    (node / "engine").mkdir(parents=True)
    (node / "docker" / "c1").mkdir(parents=True)
    (node / "engine" / "cgroup.procs").write_text("10\n11\n")
    (node / "docker" / "c1" / "cgroup.procs").write_text("20\n")
    assert cgroups_v2.pids_in(NODE, root=str(tmp_path)) == {10, 11, 20}
    for procs in node.rglob("cgroup.procs"):
        procs.unlink()  # NOTE: the kernel's files go with rmdir; these must go by hand
    cgroups_v2.remove("/magna/abc123", root=str(tmp_path))
    assert not (tmp_path / "magna" / "abc123").exists() and (tmp_path / "magna").is_dir()


def test_the_layout_is_v2_when_cgroup2_is_mounted_at_sys_fs_cgroup(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.write_text("30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 "
                  "rw,nsdelegate,memory_recursiveprot\n")
    hybrid = tmp_path / "hybrid"
    hybrid.write_text(
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n")
    assert cgroups.hierarchies(str(v2)) == [cgroups.Hierarchy("", "cgroup2", "")]
    assert cgroups.unified(str(v2))
    assert not cgroups.unified(str(hybrid))
    assert cgroups.hierarchies(str(hybrid))[1] == cgroups.Hierarchy("unified", "cgroup2",
                                                                   "nsdelegate")
