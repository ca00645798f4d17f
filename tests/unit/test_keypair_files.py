"""``KeypairFiles``: keys with their owners on disk, name claims, and what a crash leaves."""

from __future__ import annotations

from pathlib import Path

import pytest

from magna.common.exceptions import Conflict
from magna.drivers.catalog import Keypair, KeypairFiles

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDtqJ7zOtqQ me@laptop"


def test_a_key_is_stored_with_its_owner(tmp_path: Path) -> None:
    store = KeypairFiles(str(tmp_path))
    store.add_keypair(Keypair(name="k", public_key=KEY + "\n", user_id="alice"))
    assert (tmp_path / "k.pub").read_text() == KEY + "\n"
    assert (tmp_path / "k.owner").read_text() == "alice\n"
    [found] = store.keypairs(None)
    assert (found.name, found.public_key, found.user_id) == ("k", KEY, "alice")
    assert found.created_at is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.owner", "k.pub"]  # no staging left


def test_a_taken_name_is_a_conflict_and_keeps_its_owner(tmp_path: Path) -> None:
    store = KeypairFiles(str(tmp_path))
    store.add_keypair(Keypair(name="k", public_key=KEY, user_id="alice"))
    for user in ("bob", "alice", None):
        with pytest.raises(Conflict, match=r"Key pair 'k' already exists\."):
            store.add_keypair(Keypair(name="k", public_key=KEY, user_id=user))
    assert store.keypairs(None)[0].user_id == "alice"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.owner", "k.pub"]


def test_an_owner_file_a_crash_left_is_its_users_to_retry(tmp_path: Path) -> None:
    (tmp_path / "k.owner").write_text("alice\n")
    store = KeypairFiles(str(tmp_path))
    assert store.keypairs(None) == []
    with pytest.raises(Conflict):
        store.add_keypair(Keypair(name="k", public_key=KEY, user_id="bob"))
    store.add_keypair(Keypair(name="k", public_key=KEY, user_id="alice"))
    assert store.keypairs(None)[0].user_id == "alice"


def test_an_operators_file_has_no_owner_and_delete_removes_both(tmp_path: Path) -> None:
    (tmp_path / "ops.pub").write_text(KEY + "\n")
    store = KeypairFiles(str(tmp_path))
    store.add_keypair(Keypair(name="k", public_key=KEY, user_id="alice"))
    assert [(k.name, k.user_id) for k in store.keypairs(None)] == [("k", "alice"), ("ops", None)]
    assert store.delete_keypair("k") and not store.delete_keypair("k")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ops.pub"]
