"""``magna status``'s clusters row: every cluster at a glance, from (status, health) pairs."""

from __future__ import annotations

from magna.cli.commands.admin import cluster_summary


def test_no_cluster_says_so() -> None:
    assert cluster_summary([]) == ("clusters", "0 clusters", "none", "no cluster yet")


def test_all_fine_counts_each_status() -> None:
    row = cluster_summary([("CREATE_COMPLETE", "HEALTHY"), ("UPDATE_IN_PROGRESS", "HEALTHY"),
                           ("CREATE_COMPLETE", "UNKNOWN")])
    assert row == ("clusters", "3 clusters", "fine",
                   "by status: CREATE_COMPLETE 2, UPDATE_IN_PROGRESS 1; unhealthy: 0")


def test_failed_and_unhealthy_are_counted_once_each_cluster() -> None:
    row = cluster_summary([("CREATE_FAILED", "UNHEALTHY"), ("CREATE_COMPLETE", "UNHEALTHY"),
                           ("DELETE_FAILED", "")])
    assert row == ("clusters", "3 clusters", "3 in trouble",
                   "by status: CREATE_COMPLETE 1, CREATE_FAILED 1, DELETE_FAILED 1; "
                   "unhealthy: 2")


def test_one_cluster_is_singular() -> None:
    assert cluster_summary([("CREATE_COMPLETE", "HEALTHY")])[1] == "1 cluster"
