"""The neighbour table's room for a host's clusters (local_nodes/neighbours.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from magna.common.exceptions import PermanentError
from magna.drivers.local_nodes import neighbours
from magna.drivers.local_nodes.neighbours import Limits

DEFAULTS = Limits(soft=512, hard=1024)


def test_a_cluster_may_hold_an_entry_per_node_pair_and_gateway() -> None:
    assert neighbours.worst_case([3]) == 12
    assert neighbours.worst_case([100]) == 10_100
    assert neighbours.worst_case([100, 2, 0]) == 10_106
    assert neighbours.worst_case([]) == 0


def test_small_clusters_fit_the_kernel_defaults_and_large_ones_raise_both_limits() -> None:
    # 30 nodes fit the defaults' hard limit, not their soft one: the limits grow anyway
    assert neighbours.worst_case([30]) < DEFAULTS.hard
    assert neighbours.wanted(DEFAULTS, 0) == Limits(soft=1024, hard=2048)
    big = neighbours.wanted(DEFAULTS, neighbours.worst_case([100]))
    assert big.soft >= 10_100 and big.hard >= 2 * big.soft


def test_limits_are_never_lowered() -> None:
    high = Limits(soft=50_000, hard=60_000)
    assert neighbours.wanted(high, 10_100) == high
    mixed = neighbours.wanted(Limits(soft=100, hard=100_000), 10_100)
    assert mixed == Limits(soft=10_100 + neighbours.HEADROOM, hard=100_000)


def test_clusters_are_counted_by_their_node_namespaces_and_the_new_one_as_planned() -> None:
    names = ["magna-aaaa1111-master-0", "magna-aaaa1111-worker-0", "magna-aaaa1111-worker-1",
             "magna-bbbb2222-master-0", "other-ns", "magna-cccc3333-default-worker-4"]
    sizes = neighbours.cluster_sizes(names, "bbbb2222", planned=100)
    assert sorted(sizes) == [1, 3, 100]
    assert sorted(neighbours.cluster_sizes(names, "dddd4444", planned=0)) == [1, 1, 3]


@pytest.fixture()
def sysctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The limits as files in ``tmp_path`` at the kernel's defaults; no node namespaces."""
    for name, value in (("gc_thresh2", 512), ("gc_thresh3", 1024)):
        (tmp_path / name).write_text(f"{value}\n")
    monkeypatch.setattr(neighbours, "SYSCTL", str(tmp_path))
    monkeypatch.setattr(neighbours.network, "NS_DIR", str(tmp_path / "netns"))
    return tmp_path


def test_ensure_room_raises_the_hosts_limits_for_a_hundred_nodes(
        sysctl: Path, tmp_path: Path) -> None:
    neighbours.ensure_room(run_root=str(tmp_path / "run"), short="aaaa1111", planned=100)
    assert neighbours.read() == neighbours.wanted(DEFAULTS, 10_100)
    before = neighbours.read()
    neighbours.ensure_room(run_root=str(tmp_path / "run"), short="bbbb2222", planned=2)
    assert neighbours.read() == before  # a small cluster lowers nothing


def test_limits_that_cannot_be_written_are_a_permanent_error_naming_the_setting(
        sysctl: Path) -> None:
    (sysctl / "gc_thresh3").unlink()
    (sysctl / "gc_thresh3").symlink_to("/dev/full")  # every write fails, even root's
    with pytest.raises(PermanentError, match=r"gc_thresh2 to at least 11124 and gc_thresh3"):
        neighbours._raise(DEFAULTS, neighbours.wanted(DEFAULTS, 10_100))
    assert (sysctl / "gc_thresh2").read_text() == "512\n"  # soft never above hard
