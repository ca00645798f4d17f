"""Magna's secrets at rest are readable by Magna's own user only.

The state directory holds the SQLite database (clusters, sealed CA keys), the key that seals
them and the clusters' client certificates. A tenant never gets a shell on the host, but other
local users and a node that once shared the host's filesystem must not read them either.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from magna.cmd import compose
from tests.conftest import make_conf


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_state_dir_database_and_key_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)  # as an older version or an operator may have left it
    old_umask = os.umask(0o022)
    try:
        compose.build_services(make_conf(state))
    finally:
        os.umask(old_umask)
    assert _mode(state) == 0o700
    assert _mode(state / "magna.db") == 0o600
    assert _mode(state / "ca-encryption.key") == 0o600
