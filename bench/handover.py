"""A conductor killed mid-create: how long until the survivor holds the cluster and finishes it.

Two ``magna-conductor`` processes with the default timings on PostgreSQL and RabbitMQ
(``bench/deployment.py``) build a local Swarm cluster of 1+2. Once the first node's namespace
exists, the conductor that holds the cluster's reservation is killed with SIGKILL. Measured from
the kill: until the reservation names the survivor (it resumed the work: ``reserve_cluster``
is the only way in), and until ``CREATE_COMPLETE``. The dead conductor is started again and the
cluster deleted before the next repetition, so each starts from two live conductors.

What bounds the first number with the defaults (heartbeat 2 s, ``dead_after`` 6 s): the victim's
last beat is up to 2 s before the kill, so the survivor may judge it dead 4 to 6 s after; it
reads the live conductors at each of its own beats (up to 2 s later) and then sweeps at once.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from bench import deployment
from bench.settings import Settings
from bench.stats import spread, target

POOL = "10.238.0.0/16"
TIMEOUT_S = 180.0
POLL = 0.05


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(POLL)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def _status(http: httpx.Client, uuid: str) -> str | None:
    response = http.get(f"/v1/clusters/{uuid}")
    return None if response.status_code == 404 else str(response.json()["status"])


def _once(running: deployment.Running, template: str, index: int) -> dict[str, Any]:
    deploy, http = running.deploy, running.http
    uuid = deployment.create(running, f"handover-{index}", 2, template)
    if uuid is None:
        raise RuntimeError("the API did not accept the create")
    try:
        victim = _wait(lambda: deployment.namespaces(uuid) and deploy.holder(uuid),
                       TIMEOUT_S, "the create to be under way")
        deploy.conductors[victim].kill9()
        killed = time.monotonic()
        survivor = _wait(lambda: (h := deploy.holder(uuid)) not in (None, victim) and h,
                         TIMEOUT_S, "the survivor to take the cluster")
        held = time.monotonic() - killed
        _wait(lambda: _status(http, uuid) in ("CREATE_COMPLETE", "CREATE_FAILED"),
              TIMEOUT_S, "the create to end")
        status = _status(http, uuid)
        complete = time.monotonic() - killed
        deploy.start_conductor(victim)
        return {"cluster": uuid, "victim": victim, "survivor": survivor, "held_s": round(held, 3),
                "complete_s": round(complete, 3), "status": status,
                "events": _events(http, uuid)}
    finally:
        http.delete(f"/v1/clusters/{uuid}")
        _wait(lambda: _status(http, uuid) is None, TIMEOUT_S, "the delete")


def _events(http: httpx.Client, uuid: str) -> list[str]:
    """The cluster's events, oldest first: where the time after the hand-over went."""
    events = http.get(f"/v1/clusters/{uuid}/events").json()["events"]
    return [f"{e['created_at']} {e['source']} {e['reason']}: {e['message'][:200]}"
            for e in reversed(events)]


def run(settings: Settings) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    with deployment.deployment(settings.work, "handover", 2, POOL) as running:
        template = deployment.swarm_template(running.http)
        for index in range(settings.repeat):
            runs.append(_once(running, template, index))
        left = {r["cluster"]: found for r in runs
                if (found := deployment.host_leftovers(running.state_dir, r["cluster"]))}
    held = spread([r["held_s"] for r in runs])
    complete = spread([r["complete_s"] for r in runs if r["status"] == "CREATE_COMPLETE"])
    return {"conductors": 2, "shape": "1+2", "runs": runs, "held": held, "complete": complete,
            "targets": [target("survivor holds the killed conductor's cluster (max)",
                               held["max_s"], 10.0, "s")],
            "left_on_host": left}
