"""``/v1/containers`` as the container tests drive it: an action, and a wait for a status.

``wait_container`` waits until a container shows ``status`` and is settled (neither creating nor
deleting), and fails with the container's last body; ``act`` posts an action and checks the
answer's code. The fake driver's tests (``test_containers.py``) and the real engines' ones
(``test_containers_local.py``, ``test_swarm_strategy.py``) share them.
"""

from __future__ import annotations

from typing import Any

from tests.support.api import ApiClient
from tests.support.conductor import wait_for


def wait_container(api: ApiClient, ident: str, status: str, timeout: float = 20
                   ) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/containers/{ident}").json()
        return body if body.get("status") == status and _settled(body) else None

    try:
        found: dict[str, Any] = wait_for(seen, timeout, f"container {ident} to be {status}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last {api.get(f'/v1/containers/{ident}').json()}"
                             ) from None
    return found


def _settled(body: dict[str, Any]) -> bool:
    return body["status"] not in ("Creating", "Deleting")


def act(api: ApiClient, ident: str, action: str, status: int = 202) -> dict[str, Any]:
    response = api.post(f"/v1/containers/{ident}/{action}")
    assert response.status_code == status, response.text
    found: dict[str, Any] = response.json()
    return found
