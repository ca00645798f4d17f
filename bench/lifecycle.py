"""Cluster lifecycle times on the local Swarm driver, through the API and a real conductor.

``magna serve`` runs on a scratch state directory with the fast conductor settings of
``bench.server.FAST_CONDUCTOR``. For each size, create (request to ``CREATE_COMPLETE``) and
delete (request to gone) are repeated; on a 1+1 cluster the scale steps (``+1``, ``+5``, ``-1``
workers; request to ``UPDATE_COMPLETE``) are repeated too.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import clusters, server
from bench.settings import Settings
from bench.stats import spread, target

LOG = logging.getLogger(__name__)
# A subnet pool of its own, so benchmark clusters never compete with other local clusters.
SWARM: dict[str, object] = {"subnet_pool": "10.236.0.0/16"}


@contextmanager
def serve(settings: Settings, prefix: str) -> Iterator[server.Server]:
    """``magna serve`` on a fresh state dir with the fast conductor and the bench subnet pool.

    The state dir is removed afterwards unless a cluster's driver state is still in it.
    """
    state_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=settings.work))
    with server.running(state_dir, serve=True, metrics=True,
                        extra={"conductor": server.FAST_CONDUCTOR, "local_swarm": SWARM}) as srv:
        yield srv
    left = state_dir / "local-swarm"
    if left.is_dir() and any(entry.is_dir() for entry in left.iterdir()):
        LOG.warning("bench: clusters left in %s; keeping it", left)
    else:
        shutil.rmtree(state_dir, ignore_errors=True)


def label(masters: int, workers: int) -> str:
    return f"{masters}+{workers}"


def run(settings: Settings) -> dict[str, Any]:
    samples: dict[str, list[float]] = defaultdict(list)
    where: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with serve(settings, "lifecycle-") as srv, clusters.fleet(srv) as fleet:
        fleet.make_template()
        for rep in range(settings.repeat):
            for masters, workers in settings.sizes:
                size = label(masters, workers)
                before = srv.driver_steps()
                uuid, took = fleet.create(f"life-{rep}-{masters}-{workers}", masters, workers)
                samples[f"create {size}"].append(took)
                _add_steps(where[f"create {size}"], before, srv.driver_steps())
                samples[f"delete {size}"].append(fleet.delete(uuid))
            if settings.scale_steps:
                uuid, _ = fleet.create(f"scale-{rep}", 1, 1)
                count = 1
                for step in settings.scale_steps:
                    count += step
                    before = srv.driver_steps()
                    samples[f"scale {step:+d}"].append(fleet.scale(uuid, count))
                    _add_steps(where[f"scale {step:+d}"], before, srv.driver_steps())
                samples["delete after scaling"].append(fleet.delete(uuid))
    steps = {name: spread(values) for name, values in samples.items()}
    return {"conductor": server.FAST_CONDUCTOR, "poll_s": clusters.POLL,
            "repeat": settings.repeat, "steps": steps, "targets": _targets(steps),
            "driver_steps": {name: {step: round(sum(values) / len(values), 3)
                                    for step, values in by_step.items()}
                             for name, by_step in where.items()}}


def _add_steps(into: dict[str, list[float]], before: dict[str, dict[str, float]],
               after: dict[str, dict[str, float]]) -> None:
    """The driver's step times of one operation (two scrapes' difference), and how many
    ``apply`` passes it took (``passes``: one when nothing had to be retried)."""
    for key, now in after.items():
        step = key.split("/", 1)[1]
        then = before.get(key, {})
        into[step].append(now.get("seconds", 0.0) - then.get("seconds", 0.0))
        if step == "build":
            into["passes"].append(now.get("count", 0.0) - then.get("count", 0.0))


def _targets(steps: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    def median(name: str) -> float | None:
        return steps[name]["median_s"] if name in steps else None

    deletes = [s["median_s"] for n, s in steps.items() if n.startswith("delete")]
    # NOTE: issue 18's targets (the first benchmark's were 5 / 8 / 15 / 3 / 3 s).
    return [target("create 1+2", median("create 1+2"), 2, "s"),
            target("create 3+2", median("create 3+2"), 4, "s"),
            target("create 1+9", median("create 1+9"), 4, "s"),
            target("scale +1", median("scale +1"), 1, "s"),
            target("delete (slowest size)", max(deletes) if deletes else None, 1, "s")]
