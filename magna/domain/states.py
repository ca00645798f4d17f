"""The lifecycle vocabulary: Magnum's status names and the sets the rules are written in.

Externally Magna speaks Magnum's Heat-derived names because clients and tempest depend on them.
"""

from __future__ import annotations

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

# Statuses from which a cluster accepts an update (PATCH node_count, upgrade, CA rotation).
UPDATABLE = frozenset({CREATE_COMPLETE, UPDATE_COMPLETE, RESUME_COMPLETE, RESTORE_COMPLETE,
                       ROLLBACK_COMPLETE, SNAPSHOT_COMPLETE, CHECK_COMPLETE, ADOPT_COMPLETE})

# Resize is meant to be called repeatedly by autoscalers, and after a failed update.
RESIZABLE = UPDATABLE | {UPDATE_FAILED, UPDATE_IN_PROGRESS}

# NOTE: Magna differs from upstream on purpose here: a *_FAILED cluster is never a dead end, so
# an update is also accepted after a failed create or update (the reconciler converges it).
RETRYABLE = UPDATABLE | {CREATE_FAILED, UPDATE_FAILED, ROLLBACK_FAILED}

HEALTH_STATUSES = ("HEALTHY", "UNHEALTHY", "UNKNOWN")


def needs_work(status: str | None, observed_generation: int, generation: int) -> bool:
    """Whether the conductor has something to do for a cluster in this state.

    In progress always; a newer desired state too, unless the cluster failed: a failed cluster
    waits for the user (an update or delete moves it back to *_IN_PROGRESS). The sweep's query
    in ``magna.db.repository.clusters_needing_work`` is the same rule in SQL.
    """
    if status in IN_PROGRESS:
        return True
    return observed_generation < generation and status not in FAILED
