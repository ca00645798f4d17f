"""Schemathesis' own command against a real ``magna serve`` (fake driver, noauth), longer than
the suite's seeded run can afford: ``python -m tests.support.schemathesis_cli --examples 200``.

The suite's run (``tests/functional/test_api_schemathesis.py``) calls the app in process. This
one goes over HTTP to the process a user starts, with schemathesis' every phase (coverage,
fuzzing, stateful) and its checks, ``positive_data_acceptance`` replaced by the hook that
knows the state rules (``schemathesis_hooks.py``). Before it runs, objects are made so that
paths naming one find it instead of a 404: a template, a cluster at rest, a cluster kept busy
creating (its calls answer the 409s of a state), a keypair and a quota; the configuration
written for schemathesis names them per path. It prints the findings by code and operation
and exits with schemathesis' status.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.conductor import fake_template_body
from tests.support.server import RunningServer, magna_server

ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"OpenStack-API-Version": "container-infra latest"}
SERVER_CONFIG: dict[str, dict[str, object]] = {
    "drivers": {"enabled_drivers": "fake"},
    "conductor": {"sweep_interval": 0.3, "heartbeat_interval": 0.5},
}
# NOTE: what an invalid request may get besides 400: the suite's list (a 413 refuses an
# oversized invalid body before it is read).
NEGATIVE_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422"]


def _post(server: RunningServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(server.endpoint + path, json=body, headers=HEADERS, timeout=30)
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def _wait_status(server: RunningServer, uuid: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = httpx.get(f"{server.endpoint}/clusters/{uuid}", headers=HEADERS, timeout=30)
        if shown.json().get("status") == status:
            return
        time.sleep(0.3)
    raise RuntimeError(f"cluster {uuid} did not reach {status}")


def seed(server: RunningServer) -> dict[str, str]:
    """The objects the paths will name."""
    from tests.support.ssh import ssh_public_key

    template = _post(server, "/clustertemplates", fake_template_body())["uuid"]
    ready = _post(server, "/clusters", {"name": "ready", "cluster_template_id": template,
                                        "node_count": 1})["uuid"]
    busy = _post(server, "/clusters", {
        "name": "busy", "cluster_template_id": template, "node_count": 5,
        "labels": {"fake_node_seconds": "3600"}})["uuid"]
    _post(server, "/keypairs", {"name": "mine", "public_key": ssh_public_key()})
    _post(server, "/quotas", {"project_id": "p1", "resource": "Cluster", "hard_limit": 5})
    _wait_status(server, ready, "CREATE_COMPLETE")
    return {"template": template, "ready": ready, "busy": busy}


def config(made: dict[str, str]) -> str:
    """schemathesis.toml: the checks' settings, the hooks and the identifiers per path."""
    per_path = [
        (r"^/v1/clusters/\{ident\}", {"path.ident": made["ready"]}),
        (r"^/v1/bays/\{ident\}", {"path.ident": made["busy"]}),
        (r"^/v1/(clustertemplates|baymodels)/\{ident\}", {"path.ident": made["template"]}),
        (r"^/v1/clusters/\{cluster_ident\}/nodegroups$", {"path.cluster_ident": made["ready"]}),
        (r"^/v1/clusters/\{cluster_ident\}/nodegroups/\{ident\}",
         {"path.cluster_ident": made["ready"], "path.ident": "default-worker"}),
        (r"^/v1/(certificates|credentials)/\{cluster_ident\}",
         {"path.cluster_ident": made["ready"]}),
        (r"^/v1/keypairs/\{name\}", {"path.name": "mine"}),
        (r"^/v1/quotas/\{project_id\}/\{resource\}",
         {"path.project_id": "p1", "path.resource": "Cluster"}),
    ]
    lines = ['hooks = "tests.support.schemathesis_hooks"', "",
             "[checks.negative_data_rejection]",
             f"expected-statuses = {json.dumps(NEGATIVE_STATUSES)}", ""]
    for regex, parameters in per_path:
        lines += ["[[operations]]", f"include-path-regex = {json.dumps(regex)}",
                  "parameters = {" + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}"
                                               for k, v in parameters.items()) + "}", ""]
    return "\n".join(lines)


def run(server: RunningServer, config_path: Path, args: argparse.Namespace) -> int:
    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file",
               str(config_path), "run", server.endpoint + "/openapi.json",
               "-n", str(args.examples), "--seed", str(args.seed), "-w", "2", "--no-color",
               "--exclude-checks", "positive_data_acceptance", "--report", "json",
               "--report-json-path", str(args.report)]
    # NOTE: run beside its configuration, where it keeps its cache (.schemathesis/); the
    # hooks module is found through PYTHONPATH.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=config_path.parent, env=env, check=False).returncode


def summary(report: Path) -> list[str]:
    data = json.loads(report.read_text())
    cases = data["test_cases"]
    lines = [f"{cases['generated']} cases, {cases['unique_failures']} unique findings"]
    for failure in data["failures"]:
        lines.append(f"{failure['code']} {failure['title']}: {failure['count']}")
        lines += [f"  {operation}" for operation in failure["operations"]]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="Cases per operation.")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--report", type=Path, default=Path("schemathesis-report.json"))
    args = parser.parse_args(argv)
    args.report = args.report.resolve()
    with tempfile.TemporaryDirectory() as tmp, \
            magna_server(os.path.join(tmp, "state"), extra=SERVER_CONFIG) as server:
        config_path = Path(tmp, "schemathesis.toml")
        config_path.write_text(config(seed(server)))
        code = run(server, config_path, args)
    print("\n".join(summary(args.report)))
    return code


if __name__ == "__main__":
    sys.exit(main())
