"""Work for many nodes side by side (magna/common/fanout.py): results and errors as a loop."""

from __future__ import annotations

import threading

import pytest

from magna.common import fanout


def test_results_come_back_in_the_items_order() -> None:
    assert fanout.each(list(range(20)), lambda n: n * n, width=4) == [n * n for n in range(20)]
    assert fanout.each([], lambda n: n, width=4) == []


def test_steps_run_side_by_side_up_to_the_width() -> None:
    # NOTE: four steps that each wait for all four to have started can only finish side by side
    barrier = threading.Barrier(4, timeout=10)
    assert fanout.each([1, 2, 3, 4], lambda n: barrier.wait() >= 0 and n, width=4) == [1, 2, 3, 4]


def test_the_earliest_items_error_is_raised_after_every_step_ended() -> None:
    done: list[int] = []

    def step(n: int) -> int:
        if n in (3, 7):
            raise ValueError(f"item {n}")
        done.append(n)
        return n

    with pytest.raises(ValueError, match="item 3"):
        fanout.each(list(range(10)), step, width=3)
    assert sorted(done) == [0, 1, 2, 4, 5, 6, 8, 9]


def test_a_width_of_one_is_the_plain_loop_and_stops_at_the_first_error() -> None:
    seen: list[int] = []

    def step(n: int) -> None:
        seen.append(n)
        if n == 1:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        fanout.each([0, 1, 2], step, width=1)
    assert seen == [0, 1]


def test_meanwhile_runs_beside_the_block_and_has_ended_when_it_is_left() -> None:
    # NOTE: the work waits for the block to reach the barrier, so it must run beside it
    barrier = threading.Barrier(2, timeout=10)
    ended = threading.Event()

    def work() -> None:
        barrier.wait()
        ended.wait(0.2)  # still running when the block's body is done
        ended.set()

    with fanout.meanwhile(work):
        barrier.wait()
    assert ended.is_set()


def test_meanwhile_raises_the_work_error_after_a_clean_block() -> None:
    def work() -> None:
        raise ValueError("image import failed")

    with pytest.raises(ValueError, match="image import failed"), fanout.meanwhile(work):
        pass


def test_meanwhile_lets_the_block_error_win_and_still_waits_for_the_work() -> None:
    finished = threading.Event()

    def work() -> None:
        finished.wait(0.2)
        finished.set()
        raise ValueError("background")

    with pytest.raises(KeyError, match="block"), fanout.meanwhile(work):
        raise KeyError("block")
    assert finished.is_set()
