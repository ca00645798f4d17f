"""The fake driver's containers: JSON files that behave like an engine, for workflow tests.

Each container is ``<state_dir>/fake-driver/<cluster uuid>/containers/<uuid>.json`` (so a
deleted cluster takes its containers with it, as real engines do). The "engine" follows a few
rules a test can rely on:

- an image whose reference contains ``missing`` is not on the node (``PermanentError``, as a
  real engine that must never pull would answer);
- a command starting with ``exit N`` exits at once with code N (status ``Stopped``);
- ``exec`` echoes its command (``false`` exits 1); logs are one line per start (not per
  unpause: the paused process goes on, as on a real engine) and per exec;
- a container is placed on the node that has the fewest containers;
- a container whose environment has ``FAKE_HOLD=<gate>`` is held like a cluster labelled
  ``fake_hold`` (see ``magna.drivers.fake``): while ``<state_dir>/fake-holds/<gate>`` exists,
  every converge and removal of it waits at its start.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from typing import Any

from magna.common.exceptions import Conflict, PermanentError
from magna.drivers.base import (
    ContainerHosting,
    ContainerObserved,
    ContainerPlace,
    ContainerSpec,
    ExecResult,
)

STATUS = {"created": "Created", "running": "Running", "exited": "Stopped", "paused": "Paused"}
HOLD_VARIABLE = "FAKE_HOLD"
HOLD_POLL_SECONDS = 0.05


def check_gate(gate: str) -> None:
    """A hold's gate names a file in the holds directory, nothing elsewhere."""
    if gate in (".", "..") or os.path.basename(gate) != gate:
        raise PermanentError(f"fake driver: hold {gate!r} is not a file name.")


def wait_while_held(holds: str, gate: str) -> None:
    """Return once ``<holds>/<gate>`` is gone; at once without a gate."""
    check_gate(gate)
    # NOTE: no time limit of its own: a test that holds releases in a ``finally``, and to the
    # conductor a held operation is just a slow one.
    while gate and os.path.exists(os.path.join(holds, gate)):
        time.sleep(HOLD_POLL_SECONDS)


class FakeContainers(ContainerHosting):
    root: str
    holds: str

    def _dir(self, place: ContainerPlace) -> str:
        return os.path.join(self.root, place.cluster_uuid, "containers")

    def _read(self, place: ContainerPlace, uuid: str) -> dict[str, Any] | None:
        with contextlib.suppress(FileNotFoundError), \
                open(os.path.join(self._dir(place), f"{uuid}.json")) as handle:
            found: dict[str, Any] = json.load(handle)
            return found
        return None

    def _write(self, place: ContainerPlace, record: dict[str, Any]) -> None:
        os.makedirs(self._dir(place), exist_ok=True)
        path = os.path.join(self._dir(place), f"{record['uuid']}.json")
        with open(f"{path}.tmp", "w") as handle:
            json.dump(record, handle)
        os.replace(f"{path}.tmp", path)

    def _create(self, place: ContainerPlace, container: ContainerSpec) -> dict[str, Any]:
        if "missing" in container.image:
            raise PermanentError(f"No such image: {container.image} (the fake engine never "
                                 "pulls)")
        if not place.nodes:
            raise PermanentError("The cluster has no nodes to run containers on.")
        record: dict[str, Any] = {
            "uuid": container.uuid, "id": f"fake-{container.uuid}", "state": "created",
            "exit_code": None, "host": self._least_busy(place), "log": []}
        self._write(place, record)
        return record

    def _least_busy(self, place: ContainerPlace) -> str:
        used = {node: 0 for node in place.nodes}
        if os.path.isdir(self._dir(place)):
            for entry in os.listdir(self._dir(place)):
                record = self._read(place, entry.removesuffix(".json"))
                if record is not None and record["host"] in used:
                    used[record["host"]] += 1
        return min(place.nodes, key=lambda node: used[node])

    def converge_container(self, place: ContainerPlace,
                           container: ContainerSpec) -> ContainerObserved:
        wait_while_held(self.holds, container.environment.get(HOLD_VARIABLE, ""))
        record = self._read(place, container.uuid) or self._create(place, container)
        if container.desired == "running" and record["state"] == "paused" \
                and not container.reboot:
            record["state"] = "running"  # unpause: the same process goes on, no new start
        elif container.desired == "running" and (record["state"] != "running"
                                                 or container.reboot):
            record["log"].append(f"started {container.name}")
            words = list(container.command)
            if words[:1] == ["exit"]:
                record["state"], record["exit_code"] = "exited", int(words[1])
            else:
                record["state"], record["exit_code"] = "running", None
        elif container.desired == "stopped" and record["state"] in ("running", "paused"):
            record["state"], record["exit_code"] = "exited", 137
        elif container.desired == "paused" and record["state"] != "paused":
            if record["state"] != "running":
                self._write(place, record)
                return _observed(record, "Cannot pause: the container is not running.")
            record["state"] = "paused"
        self._write(place, record)
        return _observed(record)

    def observe_container(self, place: ContainerPlace,
                          container: ContainerSpec) -> ContainerObserved:
        record = self._read(place, container.uuid)
        if record is None:
            return ContainerObserved(status="Error", reason="The container is gone from its "
                                                            "engine.")
        return _observed(record)

    def remove_container(self, place: ContainerPlace, container: ContainerSpec) -> None:
        wait_while_held(self.holds, container.environment.get(HOLD_VARIABLE, ""))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self._dir(place), f"{container.uuid}.json"))

    def exec_in_container(self, place: ContainerPlace, container: ContainerSpec,
                          command: Sequence[str]) -> ExecResult:
        record = self._read(place, container.uuid)
        if record is None or record["state"] != "running":
            raise Conflict(f"Container {container.name} is not running.")
        record["log"].append(f"exec {' '.join(command)}")
        self._write(place, record)
        if command[0] == "false":
            return ExecResult(exit_code=1, output="")
        return ExecResult(exit_code=0, output=" ".join(command[1:]) + "\n")

    def container_logs(self, place: ContainerPlace, container: ContainerSpec,
                       tail: int | None) -> str:
        record = self._read(place, container.uuid)
        lines: list[str] = record["log"] if record else []
        if tail is not None:
            lines = lines[-tail:] if tail else []
        return "".join(f"{line}\n" for line in lines)


def _observed(record: dict[str, Any], reason: str | None = None) -> ContainerObserved:
    return ContainerObserved(status=STATUS[record["state"]], engine_id=record["id"],
                             host=record["host"], exit_code=record["exit_code"], reason=reason)
