"""The fake driver on its own: hand-built specs in, files on disk and ``Observed`` out."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from magna import conf
from magna.common.exceptions import PermanentError, TemporaryError
from magna.drivers.base import (
    ClusterSpec,
    ClusterType,
    ContainerPlace,
    ContainerSpec,
    NodeGroupSpec,
)
from magna.drivers.fake import FakeDriver
from tests.support import fake_driver
from tests.support.fake_driver import held, nodes_on_disk, overlaps

UUID = "6f1b3a2c-0d4e-4f5a-8b6c-7d8e9f0a1b2c"


class StubPKI:
    ca_pem = "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n"

    def sign(self, csr_pem: str) -> str:
        raise AssertionError("the fake driver never signs")


PKI = StubPKI()


def make_nodegroup(**overrides: Any) -> NodeGroupSpec:
    values: dict[str, Any] = {"uuid": "ng-worker", "name": "default-worker", "role": "worker",
                              "node_count": 2, "flavor_id": "m1.small", "image_id": "fake-image"}
    values.update(overrides)
    return NodeGroupSpec(**values)


def make_spec(*, masters: int = 1, workers: int = 2, labels: Mapping[str, str] | None = None,
              **overrides: Any) -> ClusterSpec:
    values: dict[str, Any] = {
        "uuid": UUID, "name": "k1", "project_id": "p1", "coe": "swarm-mode", "generation": 1,
        "template_uuid": "t-1", "image_id": "fake-image", "labels": dict(labels or {}),
        "nodegroups": (make_nodegroup(uuid="ng-master", name="default-master", role="master",
                                      node_count=masters),
                       make_nodegroup(node_count=workers)),
    }
    values.update(overrides)
    return ClusterSpec(**values)


def with_workers(spec: ClusterSpec, count: int, **overrides: Any) -> ClusterSpec:
    master, worker = spec.nodegroups
    return replace(spec, nodegroups=(master, replace(worker, node_count=count, **overrides)))


@pytest.fixture
def state_dir(tmp_path: Path) -> str:
    return str(tmp_path)


@pytest.fixture
def driver(state_dir: str) -> FakeDriver:
    return FakeDriver(conf.load([], [], overrides={"DEFAULT": {"state_dir": state_dir,
                                                               "host": "test-host"}}))


def workers(state_dir: str) -> list[str]:
    return [n for n in nodes_on_disk(state_dir, UUID) if n.startswith("default-worker-")]


def test_provides_and_catalog(driver: FakeDriver) -> None:
    assert driver.supports(ClusterType("vm", "fake", "swarm-mode"))
    assert driver.supports(ClusterType("vm", "fake", "kubernetes"))
    assert not driver.supports(ClusterType("bm", "fake", "swarm-mode"))
    assert [i.name for i in driver.catalog.images()] == ["fake-image"]
    assert driver.catalog.images()[0].os_distro == "fake"
    assert [f.name for f in driver.catalog.flavors()] == ["m1.tiny", "m1.small", "m1.medium"]
    assert [(n.name, n.external) for n in driver.catalog.networks()] == [("public", True)]
    assert [k.name for k in driver.catalog.keypairs("p1")] == ["fake-key"]


def test_nothing_is_created_before_the_first_call(driver: FakeDriver, state_dir: str) -> None:
    assert not os.path.exists(os.path.join(state_dir, "fake-driver"))


def test_create_writes_one_file_per_node(driver: FakeDriver, state_dir: str) -> None:
    observed = driver.apply(make_spec(), PKI)

    assert nodes_on_disk(state_dir, UUID) == ["default-master-1", "default-worker-2",
                                              "default-worker-3"]
    assert observed.converged
    assert observed.stack_id == UUID
    assert observed.coe_version == observed.container_version == "fake-1.0"
    (master,) = observed.addresses("default-master")
    assert observed.api_address == f"tcp://{master}:2375"
    assert master.startswith("10.250.")
    assert len(set(observed.addresses("default-worker"))) == 2
    assert all(node.healthy for node in observed.nodes)
    node_file = Path(state_dir, "fake-driver", UUID, "nodes", "default-worker-2.json")
    record = json.loads(node_file.read_text())
    assert set(record) == {"name", "nodegroup", "role", "address", "created_at"}
    assert (record["nodegroup"], record["role"]) == ("default-worker", "worker")


def test_cluster_record_after_converging(driver: FakeDriver, state_dir: str) -> None:
    driver.apply(make_spec(generation=4), PKI)

    record = json.loads(Path(state_dir, "fake-driver", UUID, "cluster.json").read_text())
    assert record == {"generation": 4, "template_uuid": "t-1",
                      "ca_fingerprint": hashlib.sha256(PKI.ca_pem.encode()).hexdigest()}


def test_apply_is_idempotent(driver: FakeDriver, state_dir: str) -> None:
    first = driver.apply(make_spec(), PKI)
    second = driver.apply(make_spec(), PKI)

    assert nodes_on_disk(state_dir, UUID) == ["default-master-1", "default-worker-2",
                                              "default-worker-3"]
    assert [n.address for n in first.nodes] == [n.address for n in second.nodes]


def test_scale_up_then_down_with_nodes_to_remove(driver: FakeDriver, state_dir: str) -> None:
    spec = make_spec()
    driver.apply(spec, PKI)

    driver.apply(with_workers(spec, 4), PKI)
    assert workers(state_dir) == [f"default-worker-{n}" for n in (2, 3, 4, 5)]

    observed = driver.apply(with_workers(spec, 1, nodes_to_remove=("default-worker-3",)), PKI)
    # The named node goes first, then the newest ones.
    assert workers(state_dir) == ["default-worker-2"]
    assert observed.converged
    assert [n.name for n in observed.nodes if n.nodegroup == "default-worker"] == [
        "default-worker-2"]


def test_numbers_are_never_reused(driver: FakeDriver, state_dir: str) -> None:
    spec = make_spec()
    driver.apply(spec, PKI)
    driver.apply(with_workers(spec, 1), PKI)
    driver.apply(with_workers(spec, 2), PKI)

    assert workers(state_dir) == ["default-worker-2", "default-worker-4"]


def test_absent_nodegroup_loses_its_nodes(driver: FakeDriver, state_dir: str) -> None:
    spec = make_spec()
    driver.apply(spec, PKI)

    observed = driver.apply(with_workers(spec, 2, present=False), PKI)

    assert nodes_on_disk(state_dir, UUID) == ["default-master-1"]
    assert observed.converged


def test_nodes_of_a_nodegroup_the_spec_no_longer_names_are_removed(
        driver: FakeDriver, state_dir: str) -> None:
    spec = make_spec()
    driver.apply(spec, PKI)

    driver.apply(replace(spec, nodegroups=spec.nodegroups[:1]), PKI)

    assert nodes_on_disk(state_dir, UUID) == ["default-master-1"]


def test_observe_reports_without_changing(driver: FakeDriver, state_dir: str) -> None:
    spec = make_spec()
    assert not driver.observe(spec, PKI).converged
    assert driver.observe(spec, PKI).stack_id is None
    driver.apply(spec, PKI)

    observed = driver.observe(with_workers(spec, 5), PKI)

    assert not observed.converged
    assert len(observed.nodes) == 3
    assert len(nodes_on_disk(state_dir, UUID)) == 3
    assert driver.observe(spec, PKI).converged


def test_unhealthy_label(driver: FakeDriver) -> None:
    spec = make_spec(labels={"fake_unhealthy": "default-worker-3, nosuch"})
    observed = driver.apply(spec, PKI)

    health = {n.name: (n.healthy, n.reason) for n in observed.nodes}
    assert health == {"default-master-1": (True, ""), "default-worker-2": (True, ""),
                      "default-worker-3": (False, "marked unhealthy by label")}


def test_injected_create_failure_twice_then_success(driver: FakeDriver, state_dir: str) -> None:
    spec = make_spec(labels={"fake_fail_on": "create", "fake_fail_times": "2"})

    for _ in range(2):
        with pytest.raises(PermanentError, match="fake driver: injected create failure"):
            driver.apply(spec, PKI)
    assert nodes_on_disk(state_dir, UUID) == []

    assert driver.apply(spec, PKI).converged
    assert driver.apply(with_workers(spec, 3), PKI).converged  # update was not named


def test_injected_update_failure_only_after_create(driver: FakeDriver) -> None:
    spec = make_spec(labels={"fake_fail_on": "update"})
    driver.apply(spec, PKI)

    with pytest.raises(PermanentError, match="injected update failure"):
        driver.apply(with_workers(spec, 3), PKI)
    with pytest.raises(PermanentError, match="injected update failure"):
        driver.apply(with_workers(spec, 3), PKI)


def test_temporary_errors_then_convergence(driver: FakeDriver) -> None:
    spec = make_spec(labels={"fake_temporary": "2"})

    for _ in range(2):
        with pytest.raises(TemporaryError, match="still converging") as caught:
            driver.apply(spec, PKI)
        assert caught.value.delay == 0.2

    assert driver.apply(spec, PKI).converged


@pytest.mark.parametrize("labels", [{"fake_node_seconds": "soon"}, {"fake_fail_times": "1.5"},
                                    {"fake_fail_on": "create,explode"},
                                    {"fake_hold": "../elsewhere"}, {"fake_hold": ".."}])
def test_bad_labels_are_refused(driver: FakeDriver, labels: dict[str, str]) -> None:
    with pytest.raises(PermanentError, match="fake driver"):
        driver.validate(make_spec(labels=labels))


def in_thread(call: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def wait_until_started(driver: FakeDriver, operations: int) -> None:
    """Until the log shows ``operations`` starts (the hold comes right after the start line)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(driver.log_path) and Path(driver.log_path).read_text().count(
                "start ") >= operations:
            return
        time.sleep(0.01)
    raise AssertionError("the operation did not start")


def test_a_held_apply_and_delete_wait_until_released(driver: FakeDriver,
                                                     state_dir: str) -> None:
    spec = make_spec(labels={"fake_hold": "gate"})
    with held(state_dir, "gate"):
        applying = in_thread(lambda: driver.apply(spec, PKI))
        wait_until_started(driver, 1)
        applying.join(0.3)  # unheld, three nodes take milliseconds
        assert applying.is_alive() and nodes_on_disk(state_dir, UUID) == []
    applying.join(10)
    assert not applying.is_alive() and len(nodes_on_disk(state_dir, UUID)) == 3

    with held(state_dir, "gate"):
        deleting = in_thread(lambda: driver.delete(spec))
        wait_until_started(driver, 2)
        deleting.join(0.3)
        assert deleting.is_alive() and len(nodes_on_disk(state_dir, UUID)) == 3
    deleting.join(10)
    assert not deleting.is_alive() and nodes_on_disk(state_dir, UUID) == []


def test_a_held_container_waits_until_released(driver: FakeDriver, state_dir: str) -> None:
    place = ContainerPlace(cluster_uuid=UUID, nodes=("10.250.0.1",), pki=PKI)
    box = ContainerSpec(uuid="box", name="box", image="img", environment={"FAKE_HOLD": "box"})
    with held(state_dir, "box"):
        creating = in_thread(lambda: driver.converge_container(place, box))
        creating.join(0.3)  # unheld, a file write
        assert creating.is_alive()
        assert driver.observe_container(place, box).status == "Error"  # nothing there yet
    creating.join(10)
    assert driver.observe_container(place, box).status == "Running"
    with held(state_dir, "box"):
        removing = in_thread(lambda: driver.remove_container(place, box))
        removing.join(0.3)
        assert removing.is_alive() and driver.observe_container(place, box).status == "Running"
    removing.join(10)
    assert driver.observe_container(place, box).status == "Error"


def test_a_hold_on_another_gate_does_not_hold(driver: FakeDriver, state_dir: str) -> None:
    with held(state_dir, "other"):
        assert driver.apply(make_spec(labels={"fake_hold": "gate"}), PKI).converged


def test_delete_removes_everything(driver: FakeDriver, state_dir: str) -> None:
    spec = make_spec()
    driver.apply(spec, PKI)

    assert driver.delete(spec) is True

    assert nodes_on_disk(state_dir, UUID) == []
    assert not os.path.exists(os.path.join(state_dir, "fake-driver", UUID))
    assert driver.delete(spec) is True  # nothing there: still done


def test_injected_delete_failure_keeps_nodes(driver: FakeDriver, state_dir: str) -> None:
    spec = make_spec(labels={"fake_fail_on": "delete", "fake_fail_times": "1"})
    driver.apply(spec, PKI)

    with pytest.raises(PermanentError, match="injected delete failure"):
        driver.delete(spec)
    assert len(nodes_on_disk(state_dir, UUID)) == 3

    assert driver.delete(spec) is True
    assert nodes_on_disk(state_dir, UUID) == []


def test_leftovers_and_collect(driver: FakeDriver, state_dir: str) -> None:
    other = "0a7e4d1c-9b2f-4c3d-8e5f-6a7b8c9d0e1f"
    driver.apply(make_spec(), PKI)
    driver.apply(make_spec(uuid=other), PKI)

    assert driver.leftovers({UUID, other}) == []
    assert driver.leftovers({UUID}) == [other]

    driver.collect(other)

    assert driver.leftovers({UUID}) == []
    assert nodes_on_disk(state_dir, other) == []
    assert len(nodes_on_disk(state_dir, UUID)) == 3


def test_every_call_is_logged_and_sequential_calls_do_not_overlap(driver: FakeDriver) -> None:
    spec = make_spec(labels={"fake_fail_on": "create", "fake_fail_times": "1"})
    with pytest.raises(PermanentError):
        driver.apply(spec, PKI)
    driver.apply(spec, PKI)
    driver.delete(spec)

    lines = Path(driver.log_path).read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "end"] * 3
    assert {tuple(line.split()[1:4]) for line in lines} == {(UUID, str(os.getpid()),
                                                             "test-host")}
    assert overlaps(driver.log_path) == []


def write_log(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "operations.log"
    path.write_text("".join(f"{line}\n" for line in lines))
    return str(path)


def test_overlaps_detects_two_processes_on_one_cluster(tmp_path: Path) -> None:
    log = write_log(tmp_path,
                    "start c1 100 h1 1.0",
                    "start c1 200 h2 1.5",
                    "end c1 100 h1 2.0",
                    "end c1 200 h2 2.5")

    (found,) = overlaps(log)
    assert "c1" in found and "pid 100@h1" in found and "pid 200@h2" in found


def test_overlaps_detects_two_threads_of_one_process(tmp_path: Path) -> None:
    log = write_log(tmp_path,
                    "start c1 100 h1 1.0 7",
                    "start c1 100 h1 1.1 8",
                    "end c1 100 h1 1.2 7",
                    "end c1 100 h1 1.3 8")

    assert len(overlaps(log)) == 1


def test_overlaps_accepts_sequential_and_other_clusters(tmp_path: Path) -> None:
    log = write_log(tmp_path,
                    "start c1 100 h1 1.0",
                    "start c2 200 h1 1.1",
                    "end c1 100 h1 2.0",
                    "start c1 200 h1 2.1",
                    "end c2 200 h1 2.2",
                    "end c1 200 h1 3.0")

    assert overlaps(log) == []


def test_a_killed_start_ends_at_the_next_start(tmp_path: Path) -> None:
    log = write_log(tmp_path,
                    "start c1 100 h1 1.0",
                    "start c1 200 h1 5.0",
                    "end c1 200 h1 6.0",
                    "start c1 300 h1 7.0",
                    "end c1 300 h1 8.0")

    assert overlaps(log) == []
    killed = [span for span in fake_driver.spans(log) if span.killed]
    assert [(s.actor, s.start, s.end) for s in killed] == [("pid 100@h1", 0, 1)]


def test_a_killed_start_still_overlaps_what_began_before_it(tmp_path: Path) -> None:
    log = write_log(tmp_path,
                    "start c1 200 h1 1.0",
                    "start c1 100 h1 2.0",
                    "end c1 200 h1 3.0")

    assert len(overlaps(log)) == 1


def test_overlaps_of_a_missing_log(tmp_path: Path) -> None:
    assert overlaps(str(tmp_path / "nothing.log")) == []


def apply_in_child(state_dir: str, workers: int, labels: dict[str, str]) -> None:
    """Run by the child processes of the tests below: one apply, as a conductor would."""
    child = FakeDriver(conf.load([], [], overrides={"DEFAULT": {"state_dir": state_dir}}))
    child.apply(make_spec(workers=workers, labels=labels), PKI)


def child_applying(state_dir: str, workers: int, **labels: str) -> subprocess.Popen[bytes]:
    code = (f"from {__name__} import apply_in_child; "
            f"apply_in_child({state_dir!r}, {workers}, {labels!r})")
    return subprocess.Popen([sys.executable, "-c", code],
                            cwd=Path(__file__).resolve().parents[2])


def test_a_process_killed_mid_create_leaves_whole_nodes(driver: FakeDriver,
                                                        state_dir: str) -> None:
    # NOTE: 0.5 s a node, so the kill lands seconds before the last of the 11 nodes could.
    child = child_applying(state_dir, 10, fake_node_seconds="0.5")
    try:
        deadline = time.monotonic() + 30
        while len(nodes_on_disk(state_dir, UUID)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    left = nodes_on_disk(state_dir, UUID)
    assert 2 <= len(left) < 11

    observed = driver.apply(make_spec(workers=10), PKI)

    assert observed.converged and len(nodes_on_disk(state_dir, UUID)) == 11
    assert set(left) <= set(nodes_on_disk(state_dir, UUID))
    assert overlaps(driver.log_path) == []
    assert [span.killed for span in fake_driver.spans(driver.log_path)] == [True, False]



def test_two_processes_on_one_cluster_are_caught(driver: FakeDriver, state_dir: str) -> None:
    # The first is held inside its operation until the second has run all of its own.
    with held(state_dir, "first"):
        first = child_applying(state_dir, 10, fake_hold="first")
        wait_until_started(driver, 1)
        second = child_applying(state_dir, 2)
        assert second.wait(timeout=60) == 0
    assert first.wait(timeout=60) == 0

    (found,) = overlaps(driver.log_path)
    assert UUID in found
