"""``common.files.replace``: whole files, also when threads write the same path at once."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from magna.common import files


def test_threads_writing_one_path_at_once_all_succeed_and_leave_one_whole_file(
        tmp_path: Path) -> None:
    """What a cluster's nodes, built side by side, do to its shared authorized_keys."""
    target = tmp_path / "authorized_keys"
    contents = [f"key {i}\n".encode() * 1000 for i in range(16)]
    with ThreadPoolExecutor(16) as pool:
        for _ in range(20):
            list(pool.map(lambda data: files.replace(str(target), data, 0o640), contents))
    assert target.read_bytes() in contents
    assert os.listdir(tmp_path) == ["authorized_keys"]  # no temporary file left behind
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        files.replace(str(target), "text, not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["record.json"]
