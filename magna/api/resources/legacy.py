"""Pure translations between Magnum's legacy bay/baymodel vocabulary and today's.

``/v1/bays`` and ``/v1/baymodels`` (Magnum <= 16) are views over the cluster and cluster
template tables, served by the same services. Only names differ: bay attributes are renamed on
the way in (request bodies, JSON-patch paths) and on the way out (views), and error messages
are reworded with the legacy nouns ("Bay x could not be found.") as the old API said them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from magna.common.exceptions import Conflict, Invalid, MagnaError, NotFound

# Bay attribute -> cluster attribute.
BAY_TO_CLUSTER = {"baymodel_id": "cluster_template_id", "bay_create_timeout": "create_timeout",
                  "bay_faults": "faults"}
CLUSTER_TO_BAY = {cluster: bay for bay, cluster in BAY_TO_CLUSTER.items()}

_REWORDINGS = (
    (re.compile(r"^ClusterTemplate (.+) could not be found\.$"),
     r"Baymodel \1 could not be found."),
    (re.compile(r"^Cluster (.+) could not be found\.$"), r"Bay \1 could not be found."),
    (re.compile(r"^ClusterTemplate (.+) is referenced by one or multiple clusters\.$"),
     r"Baymodel \1 is referenced by one or multiple bays."),
    (re.compile(r"^Multiple clustertemplates exist with same name\. Please use the "
                r"clustertemplate uuid instead\.$"),
     "Multiple baymodels exist with same name. Please use the baymodel uuid instead."),
    (re.compile(r"^Multiple clusters exist with same name\. Please use the cluster uuid "
                r"instead\.$"),
     "Multiple bays exist with same name. Please use the bay uuid instead."),
)
_REWORDED_ERRORS = (NotFound, Invalid, Conflict)


def to_cluster(values: Mapping[str, Any]) -> dict[str, Any]:
    """A bay request's attributes under their cluster names (order kept)."""
    return {BAY_TO_CLUSTER.get(key, key): value for key, value in values.items()}


def to_bay(body: Mapping[str, Any]) -> dict[str, Any]:
    """A cluster view's attributes under their bay names (order kept); ``cluster_id`` is the
    same column as ``stack_id`` and is shown under that name, as bays always did."""
    renamed = {**CLUSTER_TO_BAY, "cluster_id": "stack_id"}
    return {renamed.get(key, key): value for key, value in body.items()}


def bay_patch(ops: Any) -> Any:
    """JSON-patch operations on a bay rewritten onto the cluster document.

    Anything that is not a list of objects is passed through for the patch validator to reject
    with its usual message.
    """
    if not isinstance(ops, list):
        return ops
    return [_bay_op(op) if isinstance(op, dict) else op for op in ops]


def _bay_op(op: dict[str, Any]) -> dict[str, Any]:
    path = op.get("path")
    if not isinstance(path, str):
        return op
    head, sep, rest = path[1:].partition("/")
    if path.startswith("/") and head in BAY_TO_CLUSTER:
        return {**op, "path": f"/{BAY_TO_CLUSTER[head]}{sep}{rest}"}
    return op


def reword(message: str) -> str:
    """``message`` with cluster/cluster-template nouns replaced by bay/baymodel ones."""
    for pattern, replacement in _REWORDINGS:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return message


@contextmanager
def legacy_nouns() -> Iterator[None]:
    """Re-raise not-found, invalid and conflict errors worded with the legacy nouns."""
    try:
        yield
    except _REWORDED_ERRORS as exc:
        message = reword(exc.message)
        if message == exc.message:
            raise
        raise _copy(exc, message) from None


def _copy(exc: MagnaError, message: str) -> MagnaError:
    error = type(exc)(message)
    error.status, error.code = exc.status, exc.code
    return error
