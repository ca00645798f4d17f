"""The container lifecycle vocabulary and which user action is allowed when.

A container has a *desired* state the user asks for (``running``, ``stopped``, ``paused``,
``absent``) and an *observed* status the engine reports (``Creating`` … ``Error``). Actions
change the desired state; only the conductor, having asked the engine, changes the status. A
container that exits on its own keeps ``desired_state = running`` and shows ``Stopped`` with its
exit code: Magna records what happened and does not restart it behind the user's back.
"""

from __future__ import annotations

from dataclasses import dataclass

RUNNING = "running"
STOPPED = "stopped"
PAUSED = "paused"
ABSENT = "absent"
DESIRED = (RUNNING, STOPPED, PAUSED, ABSENT)

CREATING = "Creating"
CREATED = "Created"
STATUS_RUNNING = "Running"
STATUS_STOPPED = "Stopped"
STATUS_PAUSED = "Paused"
RESTARTING = "Restarting"
ERROR = "Error"
DELETING = "Deleting"
UNKNOWN = "Unknown"
STATUSES = (CREATING, CREATED, STATUS_RUNNING, STATUS_STOPPED, STATUS_PAUSED, RESTARTING,
            ERROR, DELETING, UNKNOWN)

ACTIONS = ("start", "stop", "reboot", "pause", "unpause")


@dataclass(frozen=True)
class Transition:
    """What an action asks for: the new desired state, and whether it is a reboot."""

    desired: str
    reboot: bool = False


class ActionRefused(Exception):
    """The action makes no sense in the container's current state (the API answers 409)."""


def transition(action: str, desired: str, status: str) -> Transition:
    """The intent ``action`` records for a container that wants ``desired`` and is ``status``.

    Raises ``ActionRefused`` with a user-readable reason when the action does not apply.
    """
    if desired == ABSENT:
        raise ActionRefused("The container is being deleted.")
    if action == "start":
        if desired == PAUSED or status == STATUS_PAUSED:
            raise ActionRefused("The container is paused; unpause it instead.")
        return Transition(RUNNING)
    if action == "stop":
        return Transition(STOPPED)
    if action == "reboot":
        if desired == PAUSED:
            raise ActionRefused("The container is paused; unpause it first.")
        return Transition(RUNNING, reboot=True)
    if action == "pause":
        if desired != RUNNING or status not in (STATUS_RUNNING, CREATING, CREATED, RESTARTING):
            raise ActionRefused(f"Only a running container can be paused; it is {status}.")
        return Transition(PAUSED)
    if action == "unpause":
        if desired != PAUSED:
            raise ActionRefused(f"The container is not paused; it is {status}.")
        return Transition(RUNNING)
    raise ActionRefused(f"Unknown action {action}; known: {', '.join(ACTIONS)}.")

