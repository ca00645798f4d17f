"""A real Keystone for functional tests: PyPI ``keystone`` under ``uwsgi`` on SQLite.

Keystone pins libraries that may clash with Magna's, so it lives in its own virtualenv under
``.cache/keystone-venv`` (built once, reused while it holds the right versions). Each test
session then gets a fresh Keystone in a temporary directory:

    keystone.conf → keystone-manage db_sync / fernet_setup / credential_setup / bootstrap
                  → uwsgi on a free loopback port → wait for GET /v3

``bootstrap`` creates the ``admin`` user and project and the roles admin ⇒ manager ⇒ member ⇒
reader plus ``service``. On top of that the fixture creates the service user ``magna`` in project
``service`` with the ``service`` role, which is what Keystone's default policy asks of a service
that validates other users' tokens.

A missing network makes the install fail, and the fixture fails with it: these tests never skip.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import free_port

KEYSTONE_VERSION = "30.0.0"
ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("MAGNA_KEYSTONE_VENV") or ROOT / ".cache" / "keystone-venv")
ADMIN_PASSWORD = "admin-secret"
SERVICE_USER = "magna"
SERVICE_PROJECT = "service"
SERVICE_PASSWORD = "magna-secret"
START_TIMEOUT = 60.0


def _base_python() -> str:
    base = getattr(sys, "_base_executable", None) or sys.executable
    return base if os.path.exists(base) else "python3"


def _venv_ready() -> bool:
    site = list(VENV.glob(f"lib/python*/site-packages/keystone-{KEYSTONE_VERSION}.dist-info"))
    return bool(site) and (VENV / "bin" / "uwsgi").exists()


def _run(cmd: list[str], what: str, timeout: float = 300, **kwargs: Any) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          check=False, **kwargs)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        pytest.fail(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{tail}",
                    pytrace=False)


def ensure_venv() -> Path:
    """Build (or reuse) the Keystone virtualenv; fail loudly if it cannot be installed."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "keystone-venv.lock", "w") as lock:
        # NOTE: parallel test sessions would otherwise run pip into the same venv at once.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _venv_ready():
            _run([_base_python(), "-m", "venv", str(VENV)], "Creating the Keystone venv")
            _run([str(VENV / "bin" / "pip"), "install", "--quiet",
                  f"keystone=={KEYSTONE_VERSION}", "uwsgi"],
                 f"Installing keystone=={KEYSTONE_VERSION} and uwsgi from PyPI "
                 "(is the package registry reachable?)", timeout=900)
    return VENV




def _config(workdir: Path) -> str:
    # NOTE: 4 bcrypt rounds (the minimum) instead of 12 makes every password login ~100 times
    # cheaper; these throwaway passwords need no protection.
    return (f"[database]\nconnection = sqlite:///{workdir}/keystone.db\n"
            "[identity]\npassword_hash_rounds = 4\n"
            f"[fernet_tokens]\nkey_repository = {workdir}/fernet-keys\n"
            f"[fernet_receipts]\nkey_repository = {workdir}/fernet-keys\n"
            f"[credential]\nkey_repository = {workdir}/credential-keys\n"
            "[token]\nprovider = fernet\n")


@dataclass(frozen=True)
class Project:
    id: str
    name: str


@dataclass(frozen=True)
class User:
    server: KeystoneServer
    id: str
    name: str
    password: str
    project: Project

    def token(self) -> str:
        """A fresh token scoped to the user's project."""
        return self.server.project_token(self.name, self.password, self.project.name)


class KeystoneServer:
    """One running Keystone and a small admin client for setting up users and projects."""

    def __init__(self, venv: Path, workdir: Path) -> None:
        self.venv = venv
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        self.conf_file = workdir / "keystone.conf"
        self.log_file = workdir / "uwsgi.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._admin_token: str | None = None
        self.http = httpx.Client(base_url=self.url, timeout=30)

    # -- lifecycle ------------------------------------------------------------------------------

    def prepare(self) -> None:
        self.conf_file.write_text(_config(self.workdir))
        owner = ["--keystone-user", "root", "--keystone-group", "root"]
        # NOTE: the key repositories do not touch the database: set them up beside db_sync.
        with ThreadPoolExecutor(max_workers=3) as pool:
            steps = [pool.submit(self._manage, "db_sync"),
                     pool.submit(self._manage, "fernet_setup", *owner),
                     pool.submit(self._manage, "credential_setup", *owner)]
        for step in steps:
            step.result()
        self._manage("bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                     "--bootstrap-admin-url", self.url, "--bootstrap-public-url", self.url,
                     "--bootstrap-internal-url", self.url, "--bootstrap-region-id", "RegionOne")

    def _manage(self, *args: str) -> None:
        _run([str(self.venv / "bin" / "keystone-manage"), "--config-file", str(self.conf_file),
              *args], f"keystone-manage {args[0]}")

    def start(self) -> None:
        env = {**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(self.conf_file)}
        cmd = [str(self.venv / "bin" / "uwsgi"), "--http11-socket", f"127.0.0.1:{self.port}",
               "--module", "keystone.wsgi.api:application", "--home", str(self.venv),
               "--master", "--processes", "1", "--threads", "8", "--enable-threads",
               "--need-app", "--die-on-term"]
        with open(self.log_file, "wb") as log:
            self.process = subprocess.Popen(cmd, env=env, cwd=self.workdir, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"uwsgi exited with {self.process.returncode}:\n{self.log_tail()}",
                            pytrace=False)
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get("").status_code == 200:
                    return
            time.sleep(0.2)
        pytest.fail(f"Keystone did not answer GET /v3 in {START_TIMEOUT}s:\n{self.log_tail()}",
                    pytrace=False)

    def stop(self) -> None:
        self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def log_tail(self, size: int = 4000) -> str:
        return self.log_file.read_text(errors="replace")[-size:] if self.log_file.exists() else ""

    # -- tokens ---------------------------------------------------------------------------------

    def issue_token(self, user: str, password: str, project: str | None) -> str:
        """Password authentication by name (Default domain), project-scoped when given."""
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "password": password, "domain": {"id": "default"}}}}}
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        response = self.http.post("/auth/tokens", json={"auth": auth})
        response.raise_for_status()
        return response.headers["x-subject-token"]

    def project_token(self, user: str, password: str, project: str) -> str:
        return self.issue_token(user, password, project)

    def admin_token(self) -> str:
        if self._admin_token is None:
            self._admin_token = self.issue_token("admin", ADMIN_PASSWORD, "admin")
        return self._admin_token

    def admin_user(self) -> User:
        """The ``admin`` user of ``bootstrap``, with the admin role on project ``admin``."""
        project = self._admin("GET", "/projects", params={"name": "admin"})["projects"][0]
        user = self._admin("GET", "/users", params={"name": "admin"})["users"][0]
        return User(server=self, id=user["id"], name="admin", password=ADMIN_PASSWORD,
                    project=Project(id=project["id"], name="admin"))

    def revoke_token(self, token: str) -> None:
        self._admin("DELETE", "/auth/tokens", headers={"X-Subject-Token": token})

    # -- identity objects -----------------------------------------------------------------------

    def _admin(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"X-Auth-Token": self.admin_token(), **kwargs.pop("headers", {})}
        response = self.http.request(method, path, headers=headers, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else {}

    def create_project(self, name: str) -> str:
        body = {"project": {"name": name, "domain_id": "default"}}
        project_id: str = self._admin("POST", "/projects", json=body)["project"]["id"]
        return project_id

    def create_user(self, name: str, password: str) -> str:
        body = {"user": {"name": name, "password": password, "domain_id": "default"}}
        user_id: str = self._admin("POST", "/users", json=body)["user"]["id"]
        return user_id

    def role_id(self, name: str) -> str:
        roles = self._admin("GET", "/roles", params={"name": name})["roles"]
        if not roles:
            raise LookupError(f"Keystone has no role named {name}")
        role_id: str = roles[0]["id"]
        return role_id

    def assign_role(self, user_id: str, project_id: str, role: str) -> None:
        self._admin("PUT", f"/projects/{project_id}/users/{user_id}/roles/{self.role_id(role)}")

    def make_project(self, prefix: str = "project") -> Project:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        return Project(id=self.create_project(name), name=name)

    def make_user(self, project: Project, *roles: str, name: str | None = None,
                  password: str = "secret") -> User:
        """A user with ``roles`` on ``project``, whose ``token()`` is scoped to it."""
        name = name or f"user-{uuid.uuid4().hex[:8]}"
        user = User(server=self, id=self.create_user(name, password), name=name,
                    password=password, project=project)
        for role in roles:
            self.assign_role(user.id, project.id, role)
        return user

    def create_service_user(self) -> None:
        project = Project(id=self.create_project(SERVICE_PROJECT), name=SERVICE_PROJECT)
        self.make_user(project, "service", name=SERVICE_USER, password=SERVICE_PASSWORD)

    def authtoken_options(self, **overrides: object) -> dict[str, object]:
        """``[keystone_authtoken]`` values that make Magna validate tokens here."""
        return {"auth_url": self.url, "username": SERVICE_USER, "password": SERVICE_PASSWORD,
                "project_name": SERVICE_PROJECT, "user_domain_name": "Default",
                "project_domain_name": "Default", **overrides}


@pytest.fixture(scope="session")
def keystone() -> Iterator[KeystoneServer]:
    venv = ensure_venv()
    workdir = Path(tempfile.mkdtemp(prefix="magna-keystone-"))
    server = KeystoneServer(venv, workdir)
    try:
        server.prepare()
        server.start()
        try:
            server.create_service_user()
        except httpx.HTTPError as exc:
            pytest.fail(f"Setting up Keystone failed: {exc!r}\n{server.log_tail()}",
                        pytrace=False)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
