"""Upstream OpenStack Magnum's own API under the ``api`` suite's load, to set the two side by side.

Magna claims to serve Magnum's API faster than Magnum; this suite is how that claim is
measured instead of asserted. It runs the released ``magnum`` from PyPI (``PINS``) on the same
machine, the same PostgreSQL server, the same seeded rows, the same number of worker
processes and the same wrk scenarios as ``bench/api.py`` runs against ``magna-api``.

How a run flows:

1. ``install``: a virtualenv of its own, host-wide and outside the checkout
   (``/var/cache/magna/upstream-magnum-<version>``), built by ``python -m venv`` and pip in a
   temporary directory beside it and renamed into place once complete, so a killed install is
   never reused. Magna's own ``.venv`` is never touched.
2. ``make_schema``: a scratch database (``seed.scratch_postgres``), then upstream's own tool,
   ``magnum-db-manage upgrade``. On PostgreSQL it fails: migration ``c04e925e65c2``
   (nodegroups_v2) runs a MySQL-only ``UPDATE nodegroup INNER JOIN cluster ... SET``, and the
   whole upgrade rolls back. The tables are then made from upstream's models
   (``Base.metadata.create_all``, as upstream's own database unit tests make theirs; its
   migrations add no index the models lack) and ``magnum-db-manage stamp head`` records the
   revision. The tool's error is kept in the result.
3. ``seed``: the rows of ``bench.seed.rows`` (the ones the ``api`` suite inserts into Magna),
   mapped onto upstream's columns (``upstream_rows``) and copied in with ``COPY``: as many
   clusters and templates, 10 projects, a default master and worker nodegroup per cluster,
   ``CREATE_COMPLETE``. The columns are checked against the installed models first. Upstream
   23 knows one COE, ``kubernetes``, so that is the templates' COE.
4. ``running``: gunicorn with ``Settings.workers`` sync workers serving
   ``magnum.wsgi.api:application``, upstream's WSGI entry point (the one its deployment
   guides put under uwsgi or mod_wsgi). Not ``magnum-api``: that is werkzeug's development
   server forking a process per request, and it routes every object read through the
   conductor over RPC (its ``indirection_api``), so it would measure RabbitMQ and a
   conductor. Not uwsgi: it is compiled at install, gunicorn is one pure-Python wheel. Sync
   workers, one request each at a time, are the usual process-per-request shape (uwsgi's
   ``processes`` with one thread). ``post_worker_init`` marks each worker once it has
   loaded the app, so nothing is measured while a worker still imports.
5. Authentication: upstream has no ``auth_strategy = noauth``; its no-Keystone mode is a
   paste pipeline without ``authtoken`` (its own API tests use one). The suite writes the
   installed ``api-paste.ini`` back with only ``authtoken`` taken out, and every request
   carries ``X-User-Id``/``X-Project-Id: admin`` and ``X-Roles: admin,member,reader``, which
   is the identity ``magna-api`` gives a request without headers under noauth (the ``api``
   suite sends none). Both are then admins, and both list every project's clusters
   (upstream: ``cluster:get_all_all_projects`` sets ``all_tenants``), so a list of 50 or 1000
   returns as many rows on each; ``rows_listed`` records what upstream returned.
6. Load: ``bench.load`` (wrk) with the ``api`` suite's list and show scenarios and
   concurrencies. Template create is tried once first: upstream looks the image up in Glance
   (and flavors in Nova), which needs Keystone, so without them it answers an error and the
   scenario is left out, with the answer kept in ``left_out``.

Everything started (gunicorn's process group, by its pid) is stopped and the database
dropped when the suite ends, also on failure.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import api, load, seed
from bench.settings import Settings
from tests.support.server import free_port

VERSION = "23.0.0"
PINS = (f"magnum=={VERSION}", "gunicorn==27.0.1", "psycopg2-binary==2.9.13")
CACHE = Path("/var/cache/magna")
MARKER = "magna-install.json"
REPORTED = ("magnum", "gunicorn", "pecan", "SQLAlchemy", "oslo.db", "psycopg2-binary",
            "WSME", "oslo.policy")
# The identity magna-api gives a request without identity headers under noauth.
IDENTITY = (("X-User-Id", "admin"), ("X-Project-Id", "admin"),
            ("X-Roles", "admin,member,reader"))
LISTS = ("cluster_list_50", "cluster_list_1000", "cluster_show")
DRAIN_S = 10.0  # how long the requests left from a run may take before a restart drops them

Row = dict[str, Any]
EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception)\b.*:")
# Server-side TCP states in which a connection still waits for its answer.
WAITING = {psutil.CONN_ESTABLISHED, psutil.CONN_CLOSE_WAIT, psutil.CONN_SYN_RECV}

# Upstream's columns taken over from Magna's seeded rows, and the values upstream itself
# writes into the ones Magna has no use for (JSON columns as '{}' or '[]', never NULL).
TEMPLATE_KEPT = ("uuid", "name", "project_id", "user_id", "image_id", "flavor_id",
                 "master_flavor_id", "external_network_id", "labels", "public")
TEMPLATE_SET: Row = {"coe": "kubernetes", "network_driver": "flannel",
                     "cluster_distro": "fedora-coreos", "server_type": "vm",
                     "tls_disabled": False, "registry_enabled": False,
                     "master_lb_enabled": False, "floating_ip_enabled": True, "hidden": False}
CLUSTER_KEPT = ("uuid", "name", "project_id", "user_id", "cluster_template_id", "labels",
                "flavor_id", "master_flavor_id", "create_timeout", "status", "status_reason",
                "health_status", "api_address", "coe_version", "container_version")
CLUSTER_SET: Row = {"health_status_reason": {}, "master_lb_enabled": False,
                    "floating_ip_enabled": True}
NODEGROUP_KEPT = ("uuid", "name", "cluster_id", "project_id", "flavor_id", "image_id",
                  "is_default", "status", "role", "node_count", "node_addresses")
NODEGROUP_SET: Row = {"labels": {}, "node_labels": {}, "node_taints": [], "min_node_count": 0}
TABLES = (("cluster_template", TEMPLATE_KEPT, TEMPLATE_SET),
          ("cluster", CLUSTER_KEPT, CLUSTER_SET),
          ("nodegroup", NODEGROUP_KEPT, NODEGROUP_SET))


class InstallFailed(RuntimeError):
    """pip could not build the upstream virtualenv (no index, no network)."""


# --- install ----------------------------------------------------------------------------------

def venv_path(cache: Path = CACHE) -> Path:
    return cache / f"upstream-magnum-{VERSION}"


def installed(venv: Path) -> dict[str, str] | None:
    """The versions the complete install at ``venv`` recorded, or None when it is not one."""
    try:
        record = json.loads((venv / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return record["versions"] if record.get("pins") == list(PINS) else None


def install(cache: Path = CACHE) -> Path:
    """The pinned upstream virtualenv, built once per host (20 to 50 s from a local index)."""
    venv = venv_path(cache)
    if installed(venv) is not None:
        return venv
    cache.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f"{venv.name}.building-", dir=cache))
    try:
        _build(building)
        try:
            building.rename(venv)
        except OSError:  # another install finished first, or a broken one is in the way
            if installed(venv) is None:
                shutil.rmtree(venv, ignore_errors=True)
                building.rename(venv)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return venv


def _build(target: Path) -> None:
    # NOTE: the console scripts pip writes name this temporary path in their shebang, so the
    # suite never runs them: always ``<venv>/bin/python -m`` or ``-c`` (bin/python is a
    # symlink to the base interpreter, and the venv finds its prefix from where it lies).
    steps = ([sys.executable, "-m", "venv", str(target)],
             [str(target / "bin/python"), "-m", "pip", "install", "--quiet",
              "--disable-pip-version-check", *PINS])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=1200, check=False)
        if done.returncode != 0:
            raise InstallFailed(f"{' '.join(step[:4])}... failed:\n{done.stderr[-2000:]}")
    versions = json.loads(_python(target, VERSIONS_SCRIPT, *REPORTED))
    (target / MARKER).write_text(json.dumps({"pins": list(PINS), "versions": versions}))


VERSIONS_SCRIPT = """
import json, sys
from importlib.metadata import version
print(json.dumps({name: version(name) for name in sys.argv[1:]}))
"""


def _python(venv: Path, script: str, *args: str) -> str:
    """Run ``script`` with the upstream virtualenv's interpreter; its standard output."""
    done = subprocess.run([str(venv / "bin/python"), "-c", script, *args], capture_output=True,
                          text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"upstream python failed: {_last_error(done.stderr)}")
    return done.stdout


def _last_error(stderr: str) -> str:
    """The exception line of a traceback (``module.SomeError: text``), else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if EXCEPTION_LINE.match(line)]
    return (errors or lines or ["(no output)"])[-1][:300]


# --- schema -----------------------------------------------------------------------------------

DB_MANAGE = "import sys; from magnum.cmd.db_manage import main; sys.exit(main())"
MODELS_SCRIPT = """
import json, sys
import sqlalchemy
from magnum.db.sqlalchemy import models
if len(sys.argv) > 1:
    models.Base.metadata.create_all(sqlalchemy.create_engine(sys.argv[1]))
tables = models.Base.metadata.tables.values()
print(json.dumps({t.name: [c.name for c in t.columns] for t in tables}))
"""


def make_schema(venv: Path, config: Path, url: str) -> dict[str, Any]:
    """Upstream's tables in the empty database at ``url``: by its tool, or from its models
    when the tool fails (it does on PostgreSQL); which one, and the tool's error."""
    tool = _db_manage(venv, config, "upgrade")
    if tool.returncode == 0:
        return {"made_by": "magnum-db-manage upgrade", "tool_error": None}
    _python(venv, MODELS_SCRIPT, url)
    stamp = _db_manage(venv, config, "stamp", "head")
    if stamp.returncode != 0:
        raise RuntimeError(f"magnum-db-manage stamp head failed: {_last_error(stamp.stderr)}")
    return {"made_by": "upstream's models (create_all), then magnum-db-manage stamp head",
            "tool_error": _last_error(tool.stderr)}


def _db_manage(venv: Path, config: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """``magnum-db-manage --config-file config command``, without its console script."""
    return subprocess.run([str(venv / "bin/python"), "-c", DB_MANAGE, "--config-file",
                           str(config), *command], capture_output=True, text=True,
                          timeout=300, check=False)


# --- seed -------------------------------------------------------------------------------------

def upstream_row(row: Row, kept: tuple[str, ...], fixed: Row, now: datetime) -> Row:
    """One of Magna's seeded rows in upstream's columns; dicts and lists as the JSON text
    upstream's ``JSONEncodedDict``/``JSONEncodedList`` columns hold."""
    out = {**{key: row[key] for key in kept if key in row}, **fixed, "created_at": now}
    return {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in out.items()}


def upstream_rows(clusters: int, templates: int, now: datetime
                  ) -> list[tuple[str, list[Row]]]:
    """(table, rows) in insertion order: the ``api`` suite's rows mapped onto upstream."""
    magna_rows = seed.rows(clusters, templates)
    return [(table, [upstream_row(r, kept, fixed, now) for r in rows])
            for (table, kept, fixed), rows in zip(TABLES, magna_rows, strict=True)]


def unknown_columns(tables: list[tuple[str, list[Row]]], columns: dict[str, list[str]]
                    ) -> list[str]:
    """``table.column`` names the rows fill and upstream's models do not have."""
    return sorted(f"{table}.{key}" for table, rows in tables for key in rows[0]
                  if key not in columns.get(table, ()))


def seed_upstream(venv: Path, url: str, settings: Settings) -> list[str]:
    """Copy the rows in, then settle the database as the ``api`` suite does; the clusters'
    UUIDs."""
    import psycopg
    from sqlalchemy import create_engine

    tables = upstream_rows(settings.clusters, settings.templates, datetime.now(UTC))
    unknown = unknown_columns(tables, json.loads(_python(venv, MODELS_SCRIPT)))
    if unknown:
        raise RuntimeError(f"upstream's models lack the seeded columns {unknown}")
    with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor() as cur:
        for table, rows in tables:
            names = list(rows[0])
            with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[name] for name in names])
    engine = create_engine(url)
    try:
        seed.settle(engine)
    finally:
        engine.dispose()
    return [row["uuid"] for row in dict(tables)["cluster"]]


# --- server -----------------------------------------------------------------------------------

@dataclasses.dataclass
class Server:
    """gunicorn serving upstream's API from ``state`` (``write_magnum_files`` first)."""

    venv: Path
    state: Path
    port: int
    workers: int
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start gunicorn and return once every worker has loaded the app and it answers."""
        for mark in self.state.glob("ready-*"):
            mark.unlink()
        conf = write_gunicorn_conf(self.state, self.port, self.workers)
        with open(self.state / "gunicorn.log", "ab") as log:
            self.process = subprocess.Popen(
                [str(self.venv / "bin/python"), "-m", "gunicorn", "-c", str(conf)],
                cwd=self.state, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def stop(self) -> None:
        """Stop gunicorn's process group: SIGQUIT (gunicorn's quick shutdown, which finishes
        no request), SIGKILL after 10 s."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGQUIT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def settle(self) -> None:
        """No request left from the run before: the ones wrk gave up on stay queued for the
        sync workers, which serve each one. Drained when that takes up to ``DRAIN_S``;
        otherwise the server restarts, which drops them with its listening socket (a list of
        1000 takes upstream longer than a whole run)."""
        if not wait_idle(self.port, DRAIN_S):
            self.stop()
            self.start()
            self.restarts += 1

    def worker_pids(self) -> list[int]:
        try:
            return [p.pid for p in psutil.Process(self._pid()).children()]
        except psutil.NoSuchProcess:
            return []

    def rss_mib(self) -> float:
        """Resident memory of gunicorn's master and its workers, in MiB."""
        total = 0
        for pid in (self._pid(), *self.worker_pids()):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += psutil.Process(pid).memory_info().rss
        return round(total / 2**20, 1)

    def _pid(self) -> int:
        if self.process is None:
            raise RuntimeError("upstream's API is not running")
        return self.process.pid

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self._log()}")
            if (len(list(self.state.glob("ready-*"))) >= self.workers
                    and _answers(self.url + "/v1")):
                return
            time.sleep(0.2)
        raise RuntimeError(f"upstream's API did not come up in {timeout}s:\n{self._log()}")

    def _log(self) -> str:
        path = self.state / "gunicorn.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


def paste_without_authtoken(venv: Path) -> str:
    """The installed ``api-paste.ini`` with ``authtoken`` taken out of every pipeline."""
    parser = configparser.RawConfigParser()
    parser.read(venv / "etc/magnum/api-paste.ini")
    for section in parser.sections():
        if section.startswith("pipeline:"):
            stages = parser.get(section, "pipeline").split()
            parser.set(section, "pipeline", " ".join(s for s in stages if s != "authtoken"))
    written = io.StringIO()
    parser.write(written)
    return written.getvalue()


def write_magnum_files(venv: Path, state: Path, db_url: str) -> Path:
    """magnum.conf, the paste file and the WSGI module gunicorn imports; the magnum.conf."""
    (state / "api-paste.ini").write_text(paste_without_authtoken(venv))
    config = state / "magnum.conf"
    config.write_text(
        f"[DEFAULT]\nhost = bench-upstream\nlog_file = {state / 'magnum.log'}\n\n"
        f"[database]\nconnection = {psycopg2_url(db_url)}\n\n"
        f"[api]\napi_paste_config = {state / 'api-paste.ini'}\n")
    # NOTE: upstream's WSGI module parses sys.argv as magnum's options; under gunicorn those
    # are gunicorn's, so the module gunicorn imports names magnum's config file there first.
    (state / "bench_upstream_wsgi.py").write_text(
        f"import sys\nsys.argv = [sys.argv[0], '--config-file', {str(config)!r}]\n"
        "from magnum.wsgi.api import application  # noqa: E402,F401\n")
    return config


def psycopg2_url(url: str) -> str:
    """``seed.scratch_postgres``'s URL with the driver installed beside upstream."""
    return url.replace("+psycopg:", "+psycopg2:")


def write_gunicorn_conf(state: Path, port: int, workers: int) -> Path:
    """gunicorn's settings; each worker touches ``ready-<pid>`` once it has loaded the app."""
    path = state / "gunicorn.conf.py"
    path.write_text(
        f"import pathlib\nwsgi_app = 'bench_upstream_wsgi:application'\n"
        f"bind = '127.0.0.1:{port}'\nworkers = {workers}\nworker_class = 'sync'\n"
        f"timeout = 120\nchdir = {str(state)!r}\n\n"
        "def post_worker_init(worker):\n"
        f"    pathlib.Path({str(state)!r}, f'ready-{{worker.pid}}').touch()\n")
    return path


@contextlib.contextmanager
def running(venv: Path, state: Path, workers: int) -> Iterator[Server]:
    """upstream's API on a free port, every worker loaded, until the block ends."""
    server = Server(venv, state, free_port(), workers)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def wait_idle(port: int, timeout: float) -> bool:
    """Whether, within ``timeout``, no connection to ``port`` waits for an answer any more."""
    deadline = time.monotonic() + timeout
    while any(c.laddr and c.laddr.port == port and c.status in WAITING
              for c in psutil.net_connections("tcp")):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


# --- load -------------------------------------------------------------------------------------

def scenarios(cluster_uuids: list[str]) -> list[load.Scenario]:
    """The ``api`` suite's list and show scenarios (same paths, same sample of clusters to
    show), with the identity upstream needs."""
    return [dataclasses.replace(s, headers=IDENTITY)
            for s in api.scenarios(cluster_uuids, "upstream") if s.name in LISTS]


def template_scenario() -> load.Scenario:
    """The ``api`` suite's template create, with the one COE upstream knows."""
    (create,) = [s for s in api.scenarios([], "upstream") if s.name == "template_create"]
    body = json.loads(create.body or "{}")
    body["coe"] = "kubernetes"
    return dataclasses.replace(create, body=json.dumps(body), headers=IDENTITY)


def probe(url: str, scenario: load.Scenario) -> str | None:
    """Send ``scenario`` once: None when upstream answers as expected, else its answer."""
    body = (scenario.body or "").replace("{n}", f"probe-{random.randrange(1 << 30)}")
    answer = httpx.request(scenario.method, url + scenario.paths[0], content=body,
                           headers={**load.HEADERS, **dict(scenario.headers)}, timeout=120)
    if answer.status_code == scenario.expect:
        return None
    return f"{answer.status_code} {answer.text[:300]}"


def list_once(url: str, limit: int) -> tuple[int, float]:
    """One list of ``limit`` alone, outside the load: how many clusters, in how many ms."""
    started = time.monotonic()
    answer = httpx.get(f"{url}/v1/clusters?limit={limit}", timeout=300,
                       headers={**load.HEADERS, **dict(IDENTITY)})
    answer.raise_for_status()
    return len(answer.json()["clusters"]), round((time.monotonic() - started) * 1000, 1)


def measure(srv: Server, uuids: list[str], settings: Settings) -> dict[str, Any]:
    template = template_scenario()
    refused = probe(srv.url, template)
    chosen = scenarios(uuids) if refused else [template, *scenarios(uuids)]
    results = []
    for scenario in chosen:
        for concurrency in settings.concurrencies:
            before = srv.restarts
            result = load.run(srv.url, scenario, concurrency, settings.seconds,
                              settle=srv.settle)
            results.append({"scenario": scenario.name, **result,
                            "restarts": srv.restarts - before})
    srv.settle()
    alone = {name: list_once(srv.url, limit)
             for name, limit in (("cluster_list_50", 50), ("cluster_list_1000", 1000))}
    return {"results": results, "rows_listed": {k: v[0] for k, v in alone.items()},
            "alone_ms": {k: v[1] for k, v in alone.items()},
            "left_out": {template.name: refused} if refused else {}}


def run(settings: Settings) -> dict[str, Any]:
    venv = install()
    settings.work.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="upstream-", dir=settings.work))
    try:
        with seed.scratch_postgres() as url:
            config = write_magnum_files(venv, state, url)
            schema = make_schema(venv, config, psycopg2_url(url))
            uuids = seed_upstream(venv, url, settings)
            with running(venv, state, settings.workers) as srv:
                measured = measure(srv, uuids, settings)
                rss = srv.rss_mib()
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return {"backend": "postgres", "versions": installed(venv), "venv": str(venv),
            "server": {"wsgi_server": "gunicorn", "worker_class": "sync",
                       "workers": settings.workers, "app": "magnum.wsgi.api:application",
                       "auth": "paste pipeline without authtoken, identity headers"},
            "schema": schema, "clusters": settings.clusters, "templates": settings.templates,
            "workers": settings.workers, **measured, "rss_mib_after": rss}
