"""What the server commands print when they start: their own lines, not Alembic's, unless the
user asks (``--debug``) or the operator's logging file says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import magna_server

HEADERS = {"OpenStack-API-Version": "container-infra latest"}


def test_magna_serve_on_a_new_state_dir_migrates_without_printing_alembic(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    with magna_server(str(state)) as server:
        listed = httpx.get(server.endpoint + "/clusters", headers=HEADERS, timeout=10)
    log = server.log()
    assert listed.status_code == 200, listed.text
    assert "Conductor" in log and "started" in log, log
    assert f"Uvicorn running on {server.url}" in log, log
    assert "alembic" not in log.lower(), log


def test_the_operators_logging_file_decides_alembics_lines(tmp_path: Path) -> None:
    logging_file = tmp_path / "logging.ini"
    logging_file.write_text(
        "[loggers]\nkeys = root\n\n[handlers]\nkeys = stderr\n\n[formatters]\nkeys = plain\n\n"
        "[logger_root]\nlevel = INFO\nhandlers = stderr\n\n"
        "[handler_stderr]\nclass = StreamHandler\nargs = (sys.stderr,)\nformatter = plain\n\n"
        "[formatter_plain]\nformat = operator %(name)s %(message)s\n")
    with magna_server(str(tmp_path / "state"),
                      extra={"DEFAULT": {"log_config_file": str(logging_file)}}) as server:
        pass
    log = server.log()
    assert "operator alembic.runtime.migration Running upgrade" in log, log
    assert "operator magna.conductor.service Conductor" in log, log


def _db_upgrade(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "magna.conf"
    tmp_path.mkdir()
    config.write_text(f"[DEFAULT]\nstate_dir = {tmp_path / 'state'}\n")
    return subprocess.run([sys.executable, "-m", "magna", *flags, "--config-file", str(config),
                           "db", "upgrade"], capture_output=True, text=True, timeout=120)


def test_db_upgrade_prints_the_revision_and_alembic_only_under_debug(tmp_path: Path) -> None:
    quiet = _db_upgrade(tmp_path / "quiet")
    loud = _db_upgrade(tmp_path / "loud", "--debug")
    assert quiet.returncode == 0 and loud.returncode == 0, (quiet, loud)
    assert quiet.stdout.startswith("Database is at revision "), quiet
    assert "alembic" not in quiet.stderr, quiet.stderr
    assert "INFO alembic.runtime.migration: Running upgrade  -> 0001" in loud.stderr, loud


def test_a_dashboard_page_is_one_access_line_not_one_per_api_call(tmp_path: Path) -> None:
    """The dashboard calls the API in process (three calls for the clusters page); uvicorn's
    access line for the page is what the log shows, not httpx's line for each call."""
    with magna_server(str(tmp_path / "state")) as server:
        page = httpx.get(server.url + "/dashboard/clusters", timeout=10)
    log = server.log()
    assert page.status_code == 200
    assert '"GET /dashboard/clusters HTTP/1.1" 200' in log, log
    assert "magna-dashboard.internal" not in log, log
