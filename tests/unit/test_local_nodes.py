"""The node layer on its own: it names no orchestrator, its nodes satisfy the ``Node`` interface,
and its records (slots, notes told once, subnet messages) behave without engines."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import magna.drivers.local_nodes as package
from magna.common.exceptions import PermanentError
from magna.drivers.local_nodes import network, planning
from magna.drivers.local_nodes.node import Node
from magna.drivers.local_nodes.notices import MARKER, FirstNotes
from tests.support.local_nodes import make_node


def test_the_node_layer_source_never_says_swarm() -> None:
    root = Path(package.__file__).parent
    found = [f"{path.name}:{number}" for path in sorted(root.rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if re.search("swarm", line, re.IGNORECASE)]
    assert found == []


def test_a_local_node_is_a_node_and_places_files_only_inside_itself(tmp_path: Path) -> None:
    node = make_node(tmp_path)
    assert isinstance(node, Node)
    assert (node.address, node.hostname, node.role) == ("10.9.0.3", "c-default-worker-0",
                                                        "worker")
    node.place("conf/extra.json", b"{}", 0o600)
    placed = tmp_path / "default-worker-0" / "conf" / "extra.json"
    assert placed.read_bytes() == b"{}" and placed.stat().st_mode & 0o777 == 0o600
    for outside in ("../escape", "/etc/passwd", "a/../../b"):
        with pytest.raises(ValueError):
            node.place(outside, b"x")
    assert not node.answers()  # no engine: a ping is an answer, never an error


def test_slots_are_kept_added_lowest_first_and_dropped_last(tmp_path: Path) -> None:
    slots = planning.Slots(root=str(tmp_path), cluster_dir=str(tmp_path / "c"))
    (tmp_path / "c").mkdir()
    assert slots.read() == {}
    assert slots.claim(["m-0", "w-0", "w-1"]) == {"m-0": 1, "w-0": 2, "w-1": 3}
    assert slots.drop("w-0") == {"m-0": 1, "w-1": 3}
    assert slots.claim(["m-0", "w-1", "w-2"]) == {"m-0": 1, "w-1": 3, "w-2": 2}
    assert slots.read() == {"m-0": 1, "w-1": 3, "w-2": 2}


def test_first_notes_are_told_once_and_keep_the_old_marker_name(tmp_path: Path) -> None:
    notes = FirstNotes(str(tmp_path))
    assert not notes.told()
    notes.mark_told()
    assert notes.told() and (tmp_path / MARKER).exists() and MARKER == "notes-sent"


def test_subnet_messages_name_the_drivers_own_words() -> None:
    pool = network.SubnetPool("10.0.0.0/16", 24, kind="local Example", group="local_example")
    with pytest.raises(PermanentError, match=r"A local Example cluster holds at most 253 nodes "
                       r".*smaller \[local_example\] subnet_prefix"):
        network.check_room(254, pool)
    network.check_room(253, pool)


def test_processes_of_a_namespace_are_found_by_its_file(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # NOTE: a name standing for this process's own network namespace (what /run/netns holds
    # is the same kind of file)
    (tmp_path / "ours").symlink_to(f"/proc/{os.getpid()}/ns/net")
    monkeypatch.setattr(network, "NS_DIR", str(tmp_path))
    assert os.getpid() in network.pids_in_namespaces(["ours"])
    assert network.pids_in_namespaces(["missing"]) == set()
