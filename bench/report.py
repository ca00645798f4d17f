"""``docs/performance.md`` and its charts, regenerated from the JSON results.

The newest result of each suite in the results directory is used, so suites run separately
still make one report. Hand-written analysis lives in ``bench/notes.md`` and is copied in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

NOTES = Path(__file__).with_name("notes.md")
QUICK_BANNER = ("> **Quick run on a shared machine, not the reference numbers.** These come "
                "from `--quick` (small sizes, one repetition) while other work shared the "
                "cores. Run the full suite on a quiet machine for numbers to compare.")


def newest_per_suite(results: Path) -> dict[str, dict[str, Any]]:
    """suite name -> {"run": the run's header, "data": that suite's result}."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(results.glob("run-*.json")):
        run = json.loads(path.read_text())
        for name, data in run.get("suites", {}).items():
            found[name] = {"run": {k: v for k, v in run.items() if k != "suites"},
                           "data": data, "file": path.name}
    return found


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("-" if c is None else str(c) for c in row) + " |"
              for row in rows]
    return "\n".join(lines)


def _targets(targets: list[dict[str, Any]]) -> str:
    def verdict(t: dict[str, Any]) -> str:
        return {True: "met", False: "**missed**", None: "not measured"}[t["met"]]

    return _table(["target", "measured", "limit", "verdict"],
                  [[t["name"], f"{t['value']} {t['unit']}" if t["value"] is not None else None,
                    f"< {t['limit']} {t['unit']}", verdict(t)] for t in targets])


def _source(entry: dict[str, Any]) -> str:
    m = entry["run"]["machine"]
    kind = "quick" if entry["run"].get("quick") else "full"
    return (f"*{kind} run `{entry['file']}`: {m['timestamp']}, commit "
            f"`{(m['git_commit'] or '?')[:10]}`{' (dirty)' if m.get('git_dirty') else ''}, "
            f"{m['cores']} cores, kernel {m['kernel']}, load average {m['load_average']}.*")


def _api(entry: dict[str, Any], charts: Path) -> str:
    parts = []
    for backend in entry["data"]["backends"]:
        rows = [[r["scenario"], r["concurrency"], r["requests"], r["errors"], r["rps"],
                 r["p50_ms"], r["p95_ms"], r["p99_ms"]] for r in backend["results"]]
        parts.append(f"### {backend['backend']} ({backend['clusters']} clusters, "
                     f"{backend['templates']} templates, {backend['workers']} workers)\n\n"
                     + _table(["request", "concurrency", "n", "errors", "req/s", "p50 ms",
                               "p95 ms", "p99 ms"], rows)
                     + "\n\n" + _targets(backend["targets"]))
    from bench import charts as plot

    plot.api(entry["data"], charts / "api-latency.png")
    return "\n\n".join(parts) + f"\n\n![API latency]({charts.name}/api-latency.png)"


def _lifecycle(entry: dict[str, Any], charts: Path) -> str:
    data = entry["data"]
    rows = [[name, s["n"], s["median_s"], s["min_s"], s["max_s"]]
            for name, s in data["steps"].items()]
    from bench import charts as plot

    plot.lifecycle(data, charts / "lifecycle.png")
    return (f"Conductor settings: `{data['conductor']}`; status polled every "
            f"{data['poll_s']} s.\n\n"
            + _table(["step", "n", "median s", "min s", "max s"], rows) + "\n\n"
            + _targets(data["targets"]) + _driver_steps(data.get("driver_steps", {}))
            + f"\n\n![Lifecycle]({charts.name}/lifecycle.png)")


# The local Swarm driver's steps in the order a pass runs them (``images`` beside ``swarm``).
STEP_ORDER = ("build", "engines", "swarm", "images", "retire", "balancer", "settle")


def _driver_steps(steps: dict[str, dict[str, float]]) -> str:
    """Where each operation's seconds went inside the driver (mean per operation), from
    ``magna_driver_step_duration_seconds``."""
    if not steps:
        return ""
    rows = [[name, *[by.get(step) for step in STEP_ORDER], by.get("passes")]
            for name, by in steps.items()]
    return ("\n\nInside the driver (mean seconds per operation, from "
            "`magna_driver_step_duration_seconds`; `images` runs beside `swarm`, and the "
            "workers' engines start inside `swarm`):\n\n"
            + _table(["operation", *STEP_ORDER, "passes"], rows))


def _cost(entry: dict[str, Any], charts: Path) -> str:
    data = entry["data"]
    cp = data["control_plane"]
    rows = [[r["nodes"], r["create_s"], r["engine_rss_mib_per_node"],
             r["engine_pss_mib_per_node"], r["host_used_delta_mib_per_node"],
             r["control_plane_rss_mib"]] for r in data["per_node"]]
    from bench import charts as plot

    plot.cost(data, charts / "cost.png")
    return (f"Control plane (`magna serve`, one process): **{cp['idle_rss_mib']} MiB** idle, "
            f"**{cp['rss_after_listing_mib']} MiB** with {cp['clusters_in_db']} clusters in "
            f"the database after listing all {cp['clusters_listed']} once.\n\n"
            + _table(["nodes (1 master)", "create s", "engine RSS MiB/node",
                      "engine PSS MiB/node", "host used Δ MiB/node", "control plane MiB"],
                     rows) + f"\n\n![Cost]({charts.name}/cost.png)")


def _concurrency(entry: dict[str, Any], charts: Path) -> str:
    d = entry["data"]
    per = d["per_cluster"]
    from bench import charts as plot

    plot.concurrency(d, charts / "concurrency.png")
    return (f"{d['clusters']} clusters of {d['shape']} requested at once: **{d['completed']} "
            f"completed**, {d['failed']} failed, {d['lost']} lost; all converged after "
            f"**{d['total_s']} s**. Per cluster (request to complete): median "
            f"{per['median_s']} s, min {per['min_s']} s, max {per['max_s']} s. Deleting them "
            f"all took {d['delete_all_s']} s; {d['left_after_delete']} left.\n\n"
            + (_targets(d["targets"]) + "\n\n" if "targets" in d else "")
            + f"![Concurrency]({charts.name}/concurrency.png)")


def _kubernetes(entry: dict[str, Any], charts: Path) -> str:
    data = entry["data"]
    memory = data["memory"]
    rows = [[name, s["median_s"]] for name, s in data["steps"].items()]
    workers = [[w["node"], w["processes"], w["pss_mib"],
                ", ".join(f"{k} {v}" for k, v in w["by_program_mib"].items())]
               for w in memory["workers"]]
    return (f"Driven directly (no API, no conductor); apply polled every {data['poll_s']} s, "
            "apply looks every 0.5 s. One 1+2 cluster.\n\n"
            + _table(["step", "s"], rows) + "\n\n" + _targets(data["targets"]) + "\n\n"
            f"Memory (PSS, MiB) after the create settled: control plane per master (etcd, "
            f"kube-apiserver, kube-controller-manager, kube-scheduler) "
            f"**{', '.join(map(str, memory['control_plane_pss_mib']))}**; whole master node "
            f"{', '.join(map(str, memory['master_node_pss_mib']))}; per worker node:\n\n"
            + _table(["worker", "processes", "PSS MiB", "by program (MiB)"], workers)
            + f"\n\nLeft on the host after delete: {data['left_after_delete'] or 'nothing'}.")


def _scale(entry: dict[str, Any], charts: Path) -> str:
    d = entry["data"]
    size = f"{d['masters']}+{d['workers']}"
    return (f"One swarm-mode cluster of {size} nodes through the API (load average "
            f"{d['load_before']} before the run): create **{d['create_s']} s**, delete "
            f"**{d['delete_s']} s**; per node RSS {d['rss_mib_per_node']} MiB, PSS "
            f"**{d['pss_mib_per_node']} MiB**; the nodes used {d['nodes_cpu_s_at_create']} "
            f"CPU seconds until the create completed. The kernel's neighbour table held "
            f"{d['neighbour_entries']} entries and was full {d['neighbour_table_full_during_run']}"
            f" times during the run.\n\n" + _targets(d["targets"]))


def _handover(entry: dict[str, Any], charts: Path) -> str:
    d = entry["data"]
    rows = [[r["victim"], r["survivor"], r["held_s"], r["complete_s"], r["status"]]
            for r in d["runs"]]
    return (f"{d['conductors']} conductors (default timings), PostgreSQL, RabbitMQ; a local "
            f"swarm-mode {d['shape']} create; the conductor holding it killed with SIGKILL "
            "once its first node exists. Seconds from the kill:\n\n"
            + _table(["killed", "survivor", "survivor holds it", "CREATE_COMPLETE", "status"],
                     rows) + "\n\n" + _targets(d["targets"])
            + f"\n\nLeft on the host after delete: {d['left_on_host'] or 'nothing'}.")


def _chaos(entry: dict[str, Any], charts: Path) -> str:
    d = entry["data"]
    faults = _table(["fault", "count"], [[k, v] for k, v in d["faults"].items()])
    requests = _table(["request: answer", "count"], [[k, v] for k, v in d["requests"].items()])
    outcomes = _table(["outcome", "clusters"], [[k, v] for k, v in d["outcomes"].items()])
    details = "".join(f"\n- `{uuid}`: {text}" for uuid, text in d["details"].items())
    return (f"{d['seconds']} s of chaos, seed {d['seed']}, {d['conductors']} conductors, "
            f"Kubernetes clusters {'included' if d['kubernetes'] else 'not included (no build)'}"
            f"; {d['clusters']} clusters. Settled {d['settle_s']} s after the chaos.\n\n"
            + faults + "\n\n" + requests + "\n\n" + outcomes
            + (f"\n\nNot plainly good:{details}" if details else "") + "\n\n"
            + _targets(d["targets"])
            + f"\n\nNot deleted in time: {d['delete_stuck'] or 'none'}; left on the host: "
              f"{d['leaked'] or 'nothing'}.")


SIDE_BY_SIDE = "API side by side: Magna and upstream Magnum"


def _side_by_side(found: dict[str, dict[str, Any]]) -> str:
    """Magna's PostgreSQL numbers (newest ``api`` result) beside upstream Magnum's (newest
    ``upstream`` result), per scenario and concurrency."""
    magna, theirs = found.get("api"), found.get("upstream")
    missing = [name for name, entry in (("api", magna), ("upstream", theirs)) if entry is None]
    if magna is None or theirs is None:
        return ("Not measured yet: no result of "
                + " nor of ".join(f"the `{name}` suite" for name in missing) + ".")
    failed = [f"`{name}` failed: `{entry['data']['error']}`"
              for name, entry in (("api", magna), ("upstream", theirs))
              if "error" in entry["data"]]
    ours = next((b for b in magna["data"].get("backends", []) if b["backend"] == "postgres"),
                None)
    if failed or ours is None:
        return " ".join(failed) or "The newest `api` result has no PostgreSQL run."
    data = theirs["data"]
    return "\n\n".join([_side_by_side_setup(magna, theirs, ours),
                         _side_by_side_table(ours["results"], data["results"]),
                         _side_by_side_notes(ours, data)])


def _side_by_side_setup(magna: dict[str, Any], theirs: dict[str, Any],
                        ours: dict[str, Any]) -> str:
    data = theirs["data"]
    server = data["server"]
    lines = [f"Magna (`magna-api`, PostgreSQL): {_source(magna)}",
             f"Upstream Magnum {data['versions']['magnum']} ({server['app']} under "
             f"{server['wsgi_server']} {data['versions'].get('gunicorn', '')}, "
             f"{server['workers']} {server['worker_class']} workers): {_source(theirs)}"]
    if magna["file"] != theirs["file"]:
        lines.append("The two sides come from different runs: mind their load averages.")
    sizes = [(d["clusters"], d["templates"], d["workers"]) for d in (ours, data)]
    if sizes[0] != sizes[1]:
        lines.append(f"**Not the same setup**: clusters, templates, workers {sizes[0]} for "
                     f"Magna and {sizes[1]} for upstream; rerun both with the same settings.")
    return "\n\n".join(lines)


def _side_by_side_table(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> str:
    by_key = {(r["scenario"], r["concurrency"]): r for r in ours}
    rows = []
    for up in theirs:
        us = by_key.get((up["scenario"], up["concurrency"]), {})
        # NOTE: wrk reports 0 ms latencies when nothing was answered; none were measured.
        p50, p99 = (up["p50_ms"], up["p99_ms"]) if up["requests"] else ("none", "none")
        rows.append([up["scenario"], up["concurrency"], us.get("p50_ms"), p50,
                     us.get("p99_ms"), p99, us.get("rps"), up["rps"],
                     _ratio(us.get("rps"), up["rps"]), _ratio(up["p50_ms"], us.get("p50_ms")),
                     us.get("requests"), up["requests"]])
    return _table(["request", "concurrency", "Magna p50 ms", "upstream p50 ms", "Magna p99 ms",
                   "upstream p99 ms", "Magna req/s", "upstream req/s",
                   "req/s: Magna ÷ upstream", "p50: upstream ÷ Magna", "Magna n",
                   "upstream n"], rows)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 1)


def _side_by_side_notes(ours: dict[str, Any], data: dict[str, Any]) -> str:
    notes = [f"Resident memory of the API processes after the run: Magna "
             f"{ours.get('rss_mib_after')} MiB, upstream {data.get('rss_mib_after')} MiB.",
             f"Upstream's schema: made by {data['schema']['made_by']}"
             + (f" (`magnum-db-manage upgrade` failed: `{data['schema']['tool_error']}`)."
                if data["schema"].get("tool_error") else "."),
             "Rows on a page from upstream: "
             + ", ".join(f"{k} {v}" for k, v in data.get("rows_listed", {}).items()) + "."]
    unanswered = [f"{r['scenario']} at c={r['concurrency']}" for r in data["results"]
                  if not r["requests"]]
    if unanswered:
        alone = ", ".join(f"{k} {v} ms" for k, v in data.get("alone_ms", {}).items())
        notes.append(f"**Upstream answered no request within the run** for "
                     f"{', '.join(unanswered)}. One list alone, outside the load: {alone}.")
    errors = sum(r["errors"] for r in data["results"])
    if errors:
        notes.append(f"**Upstream answered {errors} requests with an unexpected status or a "
                     "socket error** (see the JSON's `sample_failures`).")
    notes += [f"Left out for upstream: `{name}`, which answered `{answer}`."
              for name, answer in data.get("left_out", {}).items()]
    return "\n".join(f"- {note}" for note in notes)


SECTIONS = (("api", "API throughput and latency", _api),
            ("lifecycle", "Cluster lifecycle (local Swarm driver)", _lifecycle),
            ("cost", "Cost", _cost),
            ("concurrency", "Concurrency", _concurrency),
            ("kubernetes", "Kubernetes clusters (local Kubernetes driver)", _kubernetes),
            ("scale", "One large cluster (local Swarm driver)", _scale),
            ("handover", "Hand-over after a conductor is killed", _handover),
            ("chaos", "Chaos", _chaos))


def _body(entry: dict[str, Any] | None, section: Callable[[dict[str, Any], Path], str],
          charts: Path) -> list[str]:
    if entry is None:
        return ["Not measured yet.", ""]
    if "error" in entry["data"]:
        return [_source(entry), "", f"The suite failed: `{entry['data']['error']}`", ""]
    return [_source(entry), "", section(entry, charts), ""]


def render(results: Path, report: Path) -> str:
    found = newest_per_suite(results)
    charts = report.parent / report.stem
    charts.mkdir(parents=True, exist_ok=True)
    out = ["# Performance", "",
           "Generated by `python -m bench` (see the README's *Benchmarks*) from the JSON in "
           f"`{results}`; do not edit by hand: edit `bench/report.py` or `bench/notes.md`.", ""]
    if any(entry["run"].get("quick") for entry in found.values()):
        out += [QUICK_BANNER, ""]
    for name, title, section in SECTIONS:
        out += [f"## {title}", "", *_body(found.get(name), section, charts)]
        if name == "api":
            out += [f"## {SIDE_BY_SIDE}", "", _side_by_side(found), ""]
    if NOTES.exists():
        out += [NOTES.read_text().strip(), ""]
    return "\n".join(out)


def write(results: Path, report: Path) -> None:
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render(results, report))
