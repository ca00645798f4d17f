"""The upstream suite's pure parts: the rows it copies into upstream Magnum's tables, its paste
pipeline without Keystone, its install bookkeeping, and the side-by-side in the report."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bench import load, report, upstream

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _tables(clusters: int = 20, templates: int = 4) -> dict[str, list[dict[str, Any]]]:
    return dict(upstream.upstream_rows(clusters, templates, NOW))


def test_rows_come_in_insertion_order_with_the_api_suites_counts() -> None:
    tables = upstream.upstream_rows(20, 4, NOW)
    assert [(name, len(rows)) for name, rows in tables] == [
        ("cluster_template", 4), ("cluster", 20), ("nodegroup", 40)]


def test_every_cluster_has_one_default_master_and_one_default_worker() -> None:
    tables = _tables()
    roles: dict[str, list[str]] = {}
    for group in tables["nodegroup"]:
        roles.setdefault(group["cluster_id"], []).append(group["role"])
        assert group["is_default"] is True and group["status"] == "CREATE_COMPLETE"
    assert set(roles) == {c["uuid"] for c in tables["cluster"]}
    assert all(sorted(r) == ["master", "worker"] for r in roles.values())


def test_clusters_are_complete_spread_over_ten_projects_and_name_a_seeded_template() -> None:
    tables = _tables()
    templates = {t["uuid"] for t in tables["cluster_template"]}
    assert Counter(c["project_id"] for c in tables["cluster"]) == {
        f"bench-project-{i}": 2 for i in range(10)}
    for cluster in tables["cluster"]:
        assert cluster["status"] == "CREATE_COMPLETE" and cluster["health_status"] == "HEALTHY"
        assert cluster["cluster_template_id"] in templates
        assert cluster["created_at"] == NOW


def test_json_columns_hold_json_text_as_upstream_writes_it() -> None:
    tables = _tables()
    cluster, template = tables["cluster"][0], tables["cluster_template"][0]
    master = next(g for g in tables["nodegroup"] if g["role"] == "master")
    assert json.loads(cluster["labels"]) == {"seeded": "true"}
    assert cluster["health_status_reason"] == "{}"
    assert json.loads(master["node_addresses"]) == ["10.0.0.2"]
    assert (master["labels"], master["node_taints"]) == ("{}", "[]")
    assert template["coe"] == "kubernetes" and template["server_type"] == "vm"


def test_a_column_upstream_does_not_have_is_named() -> None:
    tables = upstream.upstream_rows(2, 1, NOW)
    columns = {name: list(rows[0]) for name, rows in tables}
    assert upstream.unknown_columns(tables, columns) == []
    columns["cluster"].remove("api_address")
    del columns["nodegroup"]
    missing = upstream.unknown_columns(tables, columns)
    assert "cluster.api_address" in missing and "nodegroup.uuid" in missing
    assert not [m for m in missing if m.startswith("cluster_template.")]


PASTE = """[composite:main]
paste.composite_factory = example:root
/: api

[pipeline:api]
pipeline = cors request_id authtoken api_v1

[filter:authtoken]
paste.filter_factory = example:auth
"""


def test_the_paste_pipeline_loses_only_authtoken(tmp_path: Path) -> None:
    (tmp_path / "etc/magnum").mkdir(parents=True)
    (tmp_path / "etc/magnum/api-paste.ini").write_text(PASTE)
    written = upstream.paste_without_authtoken(tmp_path)
    assert "pipeline = cors request_id api_v1\n" in written
    assert "/ = api" in written and "[filter:authtoken]" in written


def test_the_error_kept_is_the_exception_line_of_the_traceback() -> None:
    stderr = ("INFO  [alembic] Running upgrade\nTraceback (most recent call last):\n"
              '  File "x.py", line 1, in <module>\n'
              "oslo_db.exception.DBError: (psycopg2.errors.SyntaxError) syntax error\n"
              "LINE 1: UPDATE nodegroup INNER JOIN cluster\n"
              "(Background on this error at: https://sqlalche.me/e/21/f405)\n")
    assert upstream._last_error(stderr) == (
        "oslo_db.exception.DBError: (psycopg2.errors.SyntaxError) syntax error")
    assert upstream._last_error("just one line\n") == "just one line"


def _complete(venv: Path, pins: tuple[str, ...] = upstream.PINS) -> None:
    venv.mkdir(parents=True, exist_ok=True)
    (venv / upstream.MARKER).write_text(json.dumps(
        {"pins": list(pins), "versions": {"magnum": upstream.VERSION}}))


def test_a_complete_install_is_reused_and_a_marker_of_other_pins_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = upstream.venv_path(tmp_path)
    _complete(venv)
    monkeypatch.setattr(upstream, "_build", lambda target: pytest.fail("rebuilt"))
    assert upstream.install(tmp_path) == venv
    _complete(venv, pins=("magnum==1.0.0",))
    assert upstream.installed(venv) is None
    assert upstream.installed(tmp_path / "absent") is None


def test_an_incomplete_install_is_replaced_and_no_temporary_directory_stays(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = upstream.venv_path(tmp_path)
    venv.mkdir(parents=True)
    (venv / "half-written").write_text("")  # a killed install renamed by hand, no marker
    built: list[Path] = []
    monkeypatch.setattr(upstream, "_build", lambda target: (built.append(target),
                                                            _complete(target)))
    assert upstream.install(tmp_path) == venv
    assert upstream.installed(venv) == {"magnum": upstream.VERSION}
    assert not (venv / "half-written").exists()
    assert built[0].parent == tmp_path and built[0] != venv
    assert sorted(p.name for p in tmp_path.iterdir()) == [venv.name]


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(target: Path) -> None:
        (target / "bin").mkdir(parents=True)
        raise upstream.InstallFailed("no index")

    monkeypatch.setattr(upstream, "_build", fail)
    with pytest.raises(upstream.InstallFailed):
        upstream.install(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_scenarios_are_the_api_suites_lists_and_show_with_upstreams_identity() -> None:
    chosen = upstream.scenarios(["a", "b"])
    assert [s.name for s in chosen] == list(upstream.LISTS)
    assert all(dict(s.headers)["X-Roles"] == "admin,member,reader" for s in chosen)
    assert set(chosen[2].paths) == {"/v1/clusters/a", "/v1/clusters/b"}
    assert json.loads(upstream.template_scenario().body or "")["coe"] == "kubernetes"


def test_wrk_sends_a_scenarios_headers_besides_the_default_ones() -> None:
    scenario = load.Scenario("list", "GET", ("/v1/clusters",), headers=(("X-Roles", "admin"),))
    script = load.script(scenario, 1)
    assert 'wrk.headers["X-Roles"] = "admin"' in script
    assert 'wrk.headers["OpenStack-API-Version"] = "container-infra latest"' in script
    assert "X-Roles" not in load.script(load.Scenario("list", "GET", ("/v1",)), 1)


# --- the report -------------------------------------------------------------------------------

def make_result(scenario: str, concurrency: int, **overrides: Any) -> dict[str, Any]:
    return {"scenario": scenario, "concurrency": concurrency, "requests": 100, "errors": 0,
            "rps": 10.0, "p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": 30.0, **overrides}


def make_api(**overrides: Any) -> dict[str, Any]:
    backend = {"backend": "postgres", "clusters": 100, "templates": 10, "workers": 2,
               "worker_threads": None, "rss_mib_after": 400.0, "targets": [],
               "results": [make_result("cluster_list_50", 1, rps=300.0, p50_ms=2.0),
                           make_result("cluster_show", 16, rps=400.0, p50_ms=30.0)]}
    return {"backends": [{**backend, **overrides}]}


def make_upstream(**overrides: Any) -> dict[str, Any]:
    return {"backend": "postgres", "versions": {"magnum": "23.0.0", "gunicorn": "27.0.1"},
            "server": {"wsgi_server": "gunicorn", "worker_class": "sync", "workers": 2,
                       "app": "magnum.wsgi.api:application"},
            "schema": {"made_by": "upstream's models", "tool_error": "DBError: INNER"},
            "clusters": 100, "templates": 10, "workers": 2, "rss_mib_after": 300.0,
            "rows_listed": {"cluster_list_50": 50},
            "left_out": {"template_create": "400 no os_distro"},
            "alone_ms": {"cluster_list_50": 250.0, "cluster_list_1000": 12000.0},
            "results": [make_result("cluster_list_50", 1, rps=3.0, p50_ms=260.0, requests=30),
                        make_result("cluster_list_1000", 16, rps=0.0, p50_ms=0.0, p99_ms=0.0,
                                    requests=0),
                        make_result("cluster_show", 16, rps=80.0, p50_ms=150.0)],
            **overrides}


def make_run(results: Path, stamp: str, suites: dict[str, Any]) -> None:
    machine = {"timestamp": f"2026-12-06T{stamp}+00:00", "cores": 2, "kernel": "6",
               "git_commit": "abcdef1234567", "git_dirty": False, "load_average": [1, 1, 1]}
    results.mkdir(exist_ok=True)
    (results / f"run-2026-12-06T{stamp.replace(':', '')}Z.json").write_text(json.dumps(
        {"machine": machine, "quick": False, "suites": suites}))


def _side_by_side(tmp_path: Path) -> str:
    text = report.render(tmp_path / "results", tmp_path / "docs/performance.md")
    start = text.index(f"## {report.SIDE_BY_SIDE}")
    return text[start:text.index("## Cluster lifecycle")]


def test_the_side_by_side_puts_both_beside_each_other_with_ratios(tmp_path: Path) -> None:
    make_run(tmp_path / "results", "10:00:00", {"api": make_api()})
    make_run(tmp_path / "results", "11:00:00", {"upstream": make_upstream()})
    text = _side_by_side(tmp_path)
    assert "| cluster_list_50 | 1 | 2.0 | 260.0 | 30.0 | 30.0 | 300.0 | 3.0 | 100.0 | 130.0 " \
           "| 100 | 30 |" in text
    assert "| cluster_show | 16 | 30.0 | 150.0 | 30.0 | 30.0 | 400.0 | 80.0 | 5.0 | 5.0 |" in text
    # nothing answered: no latency (wrk says 0), no ratio, and the time of one alone
    assert "| cluster_list_1000 | 16 | - | none | - | none | - | 0.0 | - | - | - | 0 |" in text
    assert "no request within the run** for cluster_list_1000 at c=16" in text
    assert "cluster_list_1000 12000.0 ms" in text
    assert "Upstream Magnum 23.0.0" in text and "2 sync workers" in text
    assert "`template_create`, which answered `400 no os_distro`" in text
    assert "Magna 400.0 MiB, upstream 300.0 MiB" in text and "Not the same setup" not in text
    assert "come from different runs" in text


def test_the_side_by_side_says_when_the_setups_differ(tmp_path: Path) -> None:
    make_run(tmp_path / "results", "10:00:00", {"api": make_api(clusters=10_000),
                                                "upstream": make_upstream()})
    text = _side_by_side(tmp_path)
    assert "**Not the same setup**" in text and "different runs" not in text


@pytest.mark.parametrize(("suites", "expected"), [
    ({}, "no result of the `api` suite nor of the `upstream` suite."),
    ({"api": make_api()}, "no result of the `upstream` suite."),
    ({"upstream": make_upstream()}, "no result of the `api` suite."),
    ({"api": make_api(), "upstream": {"error": "InstallFailed: no index"}},
     "`upstream` failed: `InstallFailed: no index`"),
    ({"api": make_api(backend="sqlite"), "upstream": make_upstream()},
     "The newest `api` result has no PostgreSQL run."),
])
def test_the_report_renders_when_a_side_is_missing(tmp_path: Path, suites: dict[str, Any],
                                                   expected: str) -> None:
    make_run(tmp_path / "results", "10:00:00", suites)
    report.write(tmp_path / "results", tmp_path / "docs/performance.md")
    assert expected in _side_by_side(tmp_path)
