"""Real Magna processes for multi-process tests: an API and several conductors.

Each process gets its own config file (its own ``host``) over one PostgreSQL database and one
state directory; the tests kill them with SIGKILL and start them again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.support.server import free_port, write_config


@dataclass
class Proc:
    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            assert self.process is not None
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.process is not None
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()


@dataclass
class Deployment:
    """One API process and N conductor processes sharing a database and a state dir."""

    root: Path
    db_url: str
    common: dict[str, dict[str, object]]
    api: Proc | None = None
    conductors: dict[str, Proc] = field(default_factory=dict)
    api_url: str = ""

    def _config(self, name: str, extra: dict[str, dict[str, object]]) -> Path:
        sections: dict[str, dict[str, object]] = {
            "DEFAULT": {"state_dir": str(self.root / "state"), "host": name},
            "database": {"connection": self.db_url}}
        for source in (self.common, extra):
            for section, values in source.items():
                sections.setdefault(section, {}).update(values)
        path = self.root / f"{name}.conf"
        write_config(str(path), sections)
        return path

    def start_api(self) -> None:
        port = free_port()
        config = self._config("api-host", {"api": {"port": port}})
        self.api = Proc("api", [sys.executable, "-m", "magna.cmd.api", "--config-file",
                                str(config)], self.root / "api.log")
        self.api.start()
        self.api_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.api_url + "/v1", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError((self.root / "api.log").read_text())

    def start_conductor(self, name: str) -> Proc:
        proc = self.conductors.get(name)
        if proc is None:
            config = self._config(name, {})
            proc = Proc(name, [sys.executable, "-m", "magna.cmd.conductor", "--config-file",
                               str(config)], self.root / f"{name}.log")
            self.conductors[name] = proc
        proc.start()
        return proc

    def holder(self, cluster_uuid: str) -> str | None:
        """The conductor holding the cluster's reservation, read straight from the database."""
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                holder: str | None = conn.execute(
                    text("SELECT reservation FROM cluster WHERE uuid = :u"),
                    {"u": cluster_uuid}).scalar()
                return holder
        finally:
            engine.dispose()

    def stop_all(self) -> None:
        for proc in [*self.conductors.values(), *([self.api] if self.api else [])]:
            proc.stop()


@contextlib.contextmanager
def deployed(root: Path, db_url: str, common: dict[str, dict[str, object]],
             conductors: tuple[str, ...]) -> Iterator[Deployment]:
    """A started API and the named conductors (on a migrated database); stopped after."""
    deploy = Deployment(root, db_url, common)
    try:
        deploy.start_api()
        for name in conductors:
            deploy.start_conductor(name)
        yield deploy
    finally:
        deploy.stop_all()
