"""A Kubernetes cluster asked for while the host builds the binaries waits, and says why.

The build is played by the test: a cache directory whose progress file names a step, and the
host's build lock held (as the real build holds it). The cluster stays ``CREATE_IN_PROGRESS``
with that step as its status reason and as an event, and is deleted without ever needing the
binaries. No real build starts: ``build_on_start`` is off and the lock is held until the end.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_conf
from tests.support.conductor import FAST, Stack, conductor_stack, wait_for

STEP = "4/7 compiling kube-apiserver kube-controller-manager (7 to 15 minutes on 2 cores)"


@pytest.fixture
def building(tmp_path: Path) -> Iterator[Path]:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    (cache / "1.20.2.progress").write_text(STEP + "\n")
    fd = os.open(cache / "build.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield cache
    finally:
        os.close(fd)


@pytest.fixture
def stack(tmp_path: Path, db_url: str, building: Path) -> Iterator[Stack]:
    conf = make_conf(tmp_path, db_url, conductor=FAST,
                     local_kubernetes={"cache_dir": str(building), "build_on_start": False})
    with conductor_stack(conf, tmp_path) as running:
        yield running


def test_a_cluster_waits_for_the_build_with_its_step_as_reason(stack: Stack,
                                                               building: Path) -> None:
    template = stack.api.post("/v1/clustertemplates", json={
        "name": "k8s", "coe": "kubernetes", "image_id": "fedora-coreos-latest",
        "external_network_id": "public", "flavor_id": "m1.small"})
    assert template.status_code == 201, template.text
    created = stack.api.post("/v1/clusters", json={
        "name": "waits", "cluster_template_id": template.json()["uuid"], "node_count": 1})
    assert created.status_code == 202, created.text
    uuid = created.json()["uuid"]

    def waiting() -> dict[str, object] | None:
        body: dict[str, object] = stack.api.get(f"/v1/clusters/{uuid}").json()
        return body if "step 4/7" in str(body.get("status_reason")) else None

    body = wait_for(waiting, timeout=20, what="the build's step as the status reason")
    assert body["status"] == "CREATE_IN_PROGRESS"
    assert "Kubernetes 1.20.2 is being built on this host" in str(body["status_reason"])
    events = stack.api.get(f"/v1/clusters/{uuid}/events").json()["events"]
    assert any(e["reason"] == "Waiting" and "step 4/7" in e["message"] for e in events)
    assert not (building / "1.20.2").exists(), "nothing was built or started"

    assert stack.api.delete(f"/v1/clusters/{uuid}").status_code == 204
    stack.wait_gone(uuid)
