"""The host requirements checked for real on this machine, which has everything the local
drivers need; and the conductor's warnings when a host lacks something (here: the programs,
kept off the PATH)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from magna.conductor import service
from magna.hostcheck import requirements


def test_this_host_meets_every_requirement() -> None:
    found = requirements.check()
    assert [req.name for req in found] == ["root", "network namespaces", "iptables", "cgroups",
                                           "loop devices", "programs"]
    assert [req for req in found if not req.met] == []
    assert all(req.detail.endswith(".") for req in found)


def test_the_conductor_warns_once_per_missing_requirement(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # NOTE: only /usr/sbin and /sbin are searched
    lacking = requirements.missing()
    assert "programs" in [req.name for req in lacking]
    with caplog.at_level(logging.WARNING, logger=service.__name__):
        service.warn_missing_requirements()
    warned = [rec.getMessage() for rec in caplog.records if rec.name == service.__name__]
    assert warned == [f"This host lacks what the local drivers need ({req.name}): {req.detail}"
                      for req in lacking]
