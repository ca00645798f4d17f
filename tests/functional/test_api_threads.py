"""An API worker's threads: ``[api] worker_threads`` for database work, engine calls apart.

A worker runs blocking handlers on its event loop's thread pool; ``[api] worker_threads`` sizes
it. Container exec and logs wait on a cluster's engines for as long as the user's command
runs, so they run on threads of their own: with one database thread, a hanging exec must not
hold up a plain read.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from starlette.testclient import TestClient

from magna.cmd.api import build_app
from magna.drivers.base import ExecResult
from magna.services import containers as container_service
from tests.conftest import make_conf
from tests.support.api import LATEST


def test_worker_threads_sizes_the_thread_pool(tmp_path: Path) -> None:
    conf = make_conf(tmp_path, api={"worker_threads": 3})
    with TestClient(build_app(conf)) as client:
        assert client.portal is not None
        tokens = client.portal.call(
            lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 3


def test_a_hanging_exec_does_not_hold_up_reads(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    release, entered = threading.Event(), threading.Event()

    def hanging_exec(*_: Any) -> ExecResult:
        entered.set()
        release.wait(30)
        return ExecResult(exit_code=0, output="done\n")

    monkeypatch.setattr(container_service, "exec_", hanging_exec)
    conf = make_conf(tmp_path, api={"worker_threads": 1})
    answers: dict[str, Any] = {}
    with TestClient(build_app(conf)) as client:
        def run_exec() -> None:
            answers["exec"] = client.post("/v1/containers/box/exec", headers=LATEST,
                                          json={"command": "sleep 30"})

        caller = threading.Thread(target=run_exec)
        caller.start()
        try:
            assert entered.wait(10), "the exec never reached the service"
            started = time.monotonic()
            read = client.get("/v1/clustertemplates", headers=LATEST)
            # The read answered at once, the exec still hanging (it waits up to 30 s).
            assert time.monotonic() - started < 5
            assert caller.is_alive()
            assert read.status_code == 200, read.text
        finally:
            release.set()
            caller.join(30)
    assert answers["exec"].status_code == 200, answers["exec"].text
    assert answers["exec"].json() == {"output": "done\n", "exit_code": 0}
