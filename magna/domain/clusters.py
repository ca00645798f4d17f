"""The cluster lifecycle: its vocabulary and every transition, in one place.

A cluster (and each of its nodegroups) has a *desired state* the user asks for (``present`` or
``absent``) and a *status* in Magnum's Heat-derived names, which clients and tempest depend on.
The API records intent through the ``request_*`` functions (create, update of any kind, delete);
the conductor records outcomes through ``complete``, ``fail`` and ``time_out``. Each function is
pure: it takes the current status and answers the next one (or raises ``Refused``, which the
services turn into a 400), so the services and the reconciler load, call, and record; they do
not decide.

``*_FAILED`` is never a dead end: an update or a delete moves a failed cluster back to
``*_IN_PROGRESS`` and the conductor converges it again. A failed cluster otherwise waits for the
user (``needs_work``): the conductor does not retry a failure by itself.

Health is structured: each node's condition (``NodeHealth``) travels from the driver to the
database as data, and ``health_reason`` renders Magnum's ``health_status_reason`` dict from it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from magna.common.exceptions import Invalid

CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
CREATE_FAILED = "CREATE_FAILED"
CREATE_COMPLETE = "CREATE_COMPLETE"
UPDATE_IN_PROGRESS = "UPDATE_IN_PROGRESS"
UPDATE_FAILED = "UPDATE_FAILED"
UPDATE_COMPLETE = "UPDATE_COMPLETE"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETE_FAILED = "DELETE_FAILED"
DELETE_COMPLETE = "DELETE_COMPLETE"
RESUME_COMPLETE = "RESUME_COMPLETE"
RESUME_FAILED = "RESUME_FAILED"
RESTORE_COMPLETE = "RESTORE_COMPLETE"
ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
ROLLBACK_FAILED = "ROLLBACK_FAILED"
ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"
SNAPSHOT_COMPLETE = "SNAPSHOT_COMPLETE"
CHECK_COMPLETE = "CHECK_COMPLETE"
ADOPT_COMPLETE = "ADOPT_COMPLETE"

ALL = (
    CREATE_IN_PROGRESS, CREATE_FAILED, CREATE_COMPLETE,
    UPDATE_IN_PROGRESS, UPDATE_FAILED, UPDATE_COMPLETE,
    DELETE_IN_PROGRESS, DELETE_FAILED, DELETE_COMPLETE,
    RESUME_COMPLETE, RESUME_FAILED, RESTORE_COMPLETE,
    ROLLBACK_IN_PROGRESS, ROLLBACK_FAILED, ROLLBACK_COMPLETE,
    SNAPSHOT_COMPLETE, CHECK_COMPLETE, ADOPT_COMPLETE,
)

FAILED = frozenset({CREATE_FAILED, UPDATE_FAILED, DELETE_FAILED, ROLLBACK_FAILED, RESUME_FAILED})

IN_PROGRESS = frozenset({CREATE_IN_PROGRESS, UPDATE_IN_PROGRESS, DELETE_IN_PROGRESS,
                         ROLLBACK_IN_PROGRESS})

# Settled statuses: the health thread observes these, and containers may be created on them.
UPDATABLE = frozenset({CREATE_COMPLETE, UPDATE_COMPLETE, RESUME_COMPLETE, RESTORE_COMPLETE,
                       ROLLBACK_COMPLETE, SNAPSHOT_COMPLETE, CHECK_COMPLETE, ADOPT_COMPLETE})

# Resize is meant to be called repeatedly by autoscalers, and after a failed update.
RESIZABLE = UPDATABLE | {UPDATE_FAILED, UPDATE_IN_PROGRESS}

# NOTE: Magna differs from upstream on purpose here: a *_FAILED cluster is never a dead end, so
# an update is also accepted after a failed create or update (the reconciler converges it).
RETRYABLE = UPDATABLE | {CREATE_FAILED, UPDATE_FAILED, ROLLBACK_FAILED}

DELETING = frozenset({DELETE_IN_PROGRESS, DELETE_COMPLETE})

_COMPLETE = {CREATE_IN_PROGRESS: CREATE_COMPLETE, UPDATE_IN_PROGRESS: UPDATE_COMPLETE,
             ROLLBACK_IN_PROGRESS: ROLLBACK_COMPLETE}
_FAILED = {CREATE_IN_PROGRESS: CREATE_FAILED, UPDATE_IN_PROGRESS: UPDATE_FAILED,
           DELETE_IN_PROGRESS: DELETE_FAILED, ROLLBACK_IN_PROGRESS: ROLLBACK_FAILED}

PRESENT = "present"
ABSENT = "absent"
DESIRED = (PRESENT, ABSENT)

HEALTHY = "HEALTHY"
UNHEALTHY = "UNHEALTHY"
UNKNOWN = "UNKNOWN"
HEALTH_STATUSES = (HEALTHY, UNHEALTHY, UNKNOWN)


# NOTE: a refusal is an ``Invalid`` (400, as Magnum answers these), so the services let it
# through unchanged instead of translating it at every call.
class Refused(Invalid):
    """The request makes no sense in the cluster's current state (the API answers 400)."""


class Change(enum.Enum):
    """The kinds of update a user can ask of a cluster."""

    UPDATE = "update"
    RESIZE = "resize"
    UPGRADE = "upgrade"
    ROTATE_CA = "rotate_ca"
    ROTATE_CREDENTIAL = "rotate_credential"
    NODEGROUP = "nodegroup"

    @property
    def doing(self) -> str:
        """How a refusal names the change."""
        return "Upgrading" if self is Change.UPGRADE else "Updating"


@dataclass(frozen=True)
class Move:
    """A new status, whether it starts a new operation (so ``status_since`` restarts), and
    whether the operation under way keeps its ``status_reason``."""

    status: str
    restarted: bool
    keeps_reason: bool = False


@dataclass(frozen=True)
class Deletion:
    """What a delete request records: the status, and whether the desired state changed (then
    ``generation`` is bumped)."""

    move: Move
    newly_absent: bool


@dataclass(frozen=True)
class Outcome:
    """What the conductor records at the end of an operation: the status and its reason."""

    status: str
    reason: str
    restarted: bool = True


# -- requests (the API) -------------------------------------------------------------------------

def request_create() -> Move:
    """A new cluster or nodegroup: the conductor builds it."""
    return Move(CREATE_IN_PROGRESS, restarted=True)


def check_update(status: str | None, desired: str, change: Change = Change.UPDATE) -> None:
    """Refuse any change to a cluster being deleted; any other status accepts one (a failed
    cluster too: that is how it is retried)."""
    if desired == ABSENT or status in DELETING:
        raise Refused(f'{change.doing} a cluster when status is "{status}" is not supported.')


def request_update(status: str | None, desired: str, change: Change = Change.UPDATE) -> Move:
    """A new desired state for a cluster: a cluster still being created just keeps creating."""
    check_update(status, desired, change)
    if status == CREATE_IN_PROGRESS:
        return Move(CREATE_IN_PROGRESS, restarted=False, keeps_reason=True)
    return Move(UPDATE_IN_PROGRESS, restarted=status != UPDATE_IN_PROGRESS)


def check_nodegroup_update(status: str | None, desired: str) -> None:
    """A nodegroup being deleted takes no further changes."""
    if desired == ABSENT:
        raise Refused(f'Updating a nodegroup when status is "{status}" is not supported.')


def nodegroup_update(status: str | None) -> str | None:
    """The status of a nodegroup whose spec changed: one being created keeps creating, and one
    never given a status keeps none."""
    if status in (CREATE_IN_PROGRESS, None):
        return status
    return UPDATE_IN_PROGRESS


def request_delete(status: str | None, desired: str) -> Deletion:
    """Deletion is accepted in every status (a failed delete is retried this way)."""
    return Deletion(Move(DELETE_IN_PROGRESS, restarted=status != DELETE_IN_PROGRESS),
                    newly_absent=desired != ABSENT)


def check_nodegroup_delete(*, is_default: bool) -> None:
    if is_default:
        raise Refused("Deleting a default nodegroup is not supported.")


# -- outcomes (the conductor) -------------------------------------------------------------------

def needs_work(status: str | None, observed_generation: int, generation: int) -> bool:
    """Whether the conductor has something to do for a cluster in this state.

    In progress always; a newer desired state too, unless the cluster failed: a failed cluster
    waits for the user (an update or delete moves it back to *_IN_PROGRESS). The sweep's query
    in ``magna.db.repository.clusters_needing_work`` is the same rule in SQL.
    """
    if status in IN_PROGRESS:
        return True
    return observed_generation < generation and status not in FAILED


def verb(status: str | None) -> str:
    """The operation a status names (``create``, ``update``, ``delete`` …), lower case."""
    return status.split("_", 1)[0].lower() if status else "update"


def complete(status: str | None) -> Outcome:
    """The cluster's spec is realised: an operation in progress completes; a settled status
    stays (it is not restarted)."""
    reason = f"{verb(status).upper()} completed successfully"
    if status in _COMPLETE:
        return Outcome(_COMPLETE[status], reason)
    return Outcome(status or "", reason, restarted=False)


def nodegroup_complete(status: str | None) -> str | None:
    """A nodegroup's status once its cluster converged (None: the nodegroup row goes)."""
    return _COMPLETE.get(status or "", status)


def fail(status: str | None, reason: str) -> Outcome:
    """The operation failed in a way the user must see; anything not in progress (a settled
    cluster whose update could not even start) is an update that failed."""
    return Outcome(_FAILED.get(status or "", UPDATE_FAILED), reason)


def nodegroup_fail(status: str | None) -> str | None:
    """A nodegroup's status when its cluster failed (unchanged unless it was in progress)."""
    return _FAILED.get(status or "", status)


def timeout_minutes(status: str | None, *, create: int | None, update: int,
                    delete: int) -> int:
    """How long an operation may take: a cluster's own ``create_timeout`` bounds its creation."""
    if status == CREATE_IN_PROGRESS:
        return create or update
    if status == DELETE_IN_PROGRESS:
        return delete
    return update


def timed_out(status: str | None, *, since: dt.datetime, now: dt.datetime,
              minutes: int) -> bool:
    return status in IN_PROGRESS and now - since > dt.timedelta(minutes=minutes)


def time_out(status: str | None, *, minutes: int, waiting: str | None = None) -> Outcome:
    """A stuck operation fails, saying what the driver was last waiting for (a join that keeps
    failing, engines that do not answer): the user needs the cause, not only the clock."""
    reason = f"{verb(status).capitalize()} timed out after {minutes} minutes."
    if waiting is not None:
        reason += f" Still waiting: {waiting}"
    return fail(status, reason[:1000])


# -- health -------------------------------------------------------------------------------------

READY = "Ready"
API = "api"


@dataclass(frozen=True)
class NodeHealth:
    """One observed condition: ``node`` (a node's name, or ``api`` for the cluster's endpoint),
    the ``condition`` checked (``Ready``; None for a free-form entry), whether it holds
    (None: not known) and why not."""

    node: str
    condition: str | None
    healthy: bool | None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "condition": self.condition, "healthy": self.healthy,
                "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NodeHealth:
        return cls(node=str(data["node"]), condition=data.get("condition"),
                   healthy=data.get("healthy"), reason=str(data.get("reason") or ""))


@dataclass(frozen=True)
class Health:
    """A cluster's health: the overall status and each condition behind it."""

    status: str
    conditions: tuple[NodeHealth, ...]

    def failing(self) -> list[NodeHealth]:
        return [c for c in self.conditions if c.healthy is not True]


def api_health(api_address: str | None) -> NodeHealth:
    return NodeHealth(API, None, bool(api_address), "" if api_address else "no api address")


def unobservable(error: object) -> Health:
    """Health when the driver could not look (the status is UNKNOWN, not an error)."""
    return Health(UNKNOWN, (NodeHealth(API, None, None, f"not observable: {error}"),))


def assess(api_address: str | None, nodes: Sequence[NodeHealth]) -> Health:
    """HEALTHY only if the API has an address and every node is healthy; UNKNOWN if any node's
    health (or every node's, for lack of nodes) is not known."""
    conditions = (api_health(api_address), *nodes)
    known = [n.healthy for n in nodes]
    if not known or any(h is None for h in known):
        return Health(UNKNOWN, conditions)
    return Health(HEALTHY if all(known) and api_address else UNHEALTHY, conditions)


def health_change(before: str | None, after: Health) -> str | None:
    """The message of a ``Health`` event when the health turned between HEALTHY and UNHEALTHY,
    naming the failing nodes; None when there is nothing to report."""
    if before is None or before == after.status or after.status not in (HEALTHY, UNHEALTHY):
        return None
    failing = [f"{c.node}: {c.reason or 'False'}" for c in after.failing()]
    if not failing:
        return f"{after.status}: every node Ready"
    return f"{after.status}: {'; '.join(failing)}"[:1000]


def _rendered(entry: NodeHealth) -> tuple[str, str]:
    if entry.condition is None:
        if entry.node == API and entry.healthy is True:
            return API, "ok"
        return entry.node, entry.reason
    if entry.healthy:
        return f"{entry.node}.{entry.condition}", "True"
    return f"{entry.node}.{entry.condition}", f"False: {entry.reason}" if entry.reason \
        else "False"


def health_reason(conditions: Iterable[NodeHealth]) -> dict[str, str]:
    """Magnum's ``health_status_reason``: ``{"api": "ok", "<node>.Ready": "True"}``, or
    ``"False: <reason>"`` for a failing node, a free-form entry as it was given."""
    return dict(_rendered(entry) for entry in conditions)


def free_form(reason: Mapping[str, str]) -> tuple[NodeHealth, ...]:
    """An administrator's ``health_status_reason`` (PATCH), kept as given."""
    return tuple(NodeHealth(key, None, None, value) for key, value in reason.items())


def conditions_from_json(stored: Iterable[Mapping[str, Any]] | None) -> tuple[NodeHealth, ...]:
    """The conditions as the database keeps them (a JSON list of objects)."""
    return tuple(NodeHealth.from_json(entry) for entry in stored or ())


def conditions_to_json(conditions: Iterable[NodeHealth]) -> list[dict[str, Any]]:
    return [entry.to_json() for entry in conditions]
