"""Container lifecycle rules and the local driver's pull rule: input → output."""

from __future__ import annotations

import pytest

from magna.domain import containers as rules
from magna.drivers.local_swarm.containers import pull_allowed


@pytest.mark.parametrize(("action", "desired", "status", "expected"), [
    ("start", "stopped", "Stopped", rules.Transition("running")),
    ("start", "running", "Stopped", rules.Transition("running")),  # exited on its own
    ("stop", "paused", "Paused", rules.Transition("stopped")),
    ("reboot", "running", "Running", rules.Transition("running", reboot=True)),
    ("pause", "running", "Running", rules.Transition("paused")),
    ("unpause", "paused", "Paused", rules.Transition("running")),
])
def test_allowed_actions(action: str, desired: str, status: str,
                         expected: rules.Transition) -> None:
    assert rules.transition(action, desired, status) == expected


@pytest.mark.parametrize(("action", "desired", "status", "reason"), [
    ("start", "paused", "Paused", "unpause it instead"),
    ("reboot", "paused", "Paused", "unpause it first"),
    ("pause", "running", "Stopped", "Only a running container"),
    ("pause", "stopped", "Running", "Only a running container"),
    ("unpause", "running", "Running", "not paused"),
    ("stop", "absent", "Deleting", "being deleted"),
    ("explode", "running", "Running", "Unknown action"),
])
def test_refused_actions(action: str, desired: str, status: str, reason: str) -> None:
    with pytest.raises(rules.ActionRefused, match=reason):
        rules.transition(action, desired, status)


@pytest.mark.parametrize(("image", "allowed"), [
    ("10.231.0.1:5000/magna/busybox:latest", True),
    ("192.168.1.5/team/app", True),
    ("magna/busybox:latest", False),
    ("busybox", False),
    ("docker.io/library/alpine:3", False),
    ("quay.io/x/y", False),
    ("8.8.8.8:5000/x/y", False),
    ("localhost:5000/x", False),
])
def test_only_private_registries_are_pulled_from(image: str, allowed: bool) -> None:
    assert pull_allowed(image) is allowed
