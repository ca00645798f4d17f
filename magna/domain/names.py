"""Generated resource names and the name rules Magnum enforces."""

from __future__ import annotations

import random
import re

GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi",
         "chi", "psi", "omega")

CLUSTER_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.-]*$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")


def generate(kind: str, rng: random.Random | None = None) -> str:
    """A name like ``theta-7-cluster`` for a resource created without one."""
    r = rng or random.SystemRandom()
    return f"{r.choice(GREEK)}-{r.randint(1, 24)}-{kind}"


def is_uuid_like(value: str) -> bool:
    return bool(UUID_RE.match(value))


def is_valid_cluster_name(value: str) -> bool:
    return 1 <= len(value) <= 242 and bool(CLUSTER_NAME_RE.match(value))
