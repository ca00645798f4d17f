"""Which node of a swarm a new ``/v1/containers`` container goes to: the ``swarm_strategy`` label.

Classic Swarm's manager chose a node per container with a strategy (spread, binpack, random);
Magnum passes the cluster's ``swarm_strategy`` label to it. Magna's containers are plain engine
containers on a node (``containers.py``), so Magna chooses, from each answering node's count of
Magna containers (running or not):

- spread (the default): the node with the fewest;
- binpack: the node with the most, so containers fill one node before the next is used;
- random: a node drawn with the container's UUID as seed, so a pass repeated after a crash (the
  container made, not yet recorded) draws the same node.

Ties go to the first node in the order given (masters first). Nothing but the count is weighed:
a node's memory or CPU is not, as classic Swarm did not without reservations.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LABEL = "swarm_strategy"
SPREAD, BINPACK, RANDOM = "spread", "binpack", "random"
STRATEGIES = (SPREAD, BINPACK, RANDOM)
DEFAULT = SPREAD


@dataclass(frozen=True)
class Load:
    """A node that answered, and how many Magna containers its engine holds."""

    address: str
    containers: int


def strategy_of(labels: Mapping[str, str]) -> str:
    """The cluster's strategy (checked at the API; anything else reads as the default)."""
    asked = labels.get(LABEL, DEFAULT)
    return asked if asked in STRATEGIES else DEFAULT


def choose(strategy: str, loads: Sequence[Load], *, seed: str) -> str:
    """The address a new container goes to; ``loads`` in the nodes' order, not empty."""
    if strategy == RANDOM:
        # NOTE: not for security; a reproducible draw per container.
        return random.Random(seed).choice(list(loads)).address
    order = {load.address: index for index, load in enumerate(loads)}
    sign = -1 if strategy == BINPACK else 1
    return min(loads, key=lambda load: (sign * load.containers, order[load.address])).address
