"""``noauth``: trust identity headers, for a single-user local install and for tests.

With no ``X-User-Id``/``X-Project-Id`` headers the caller is a local administrator. The server
refuses to bind anything but loopback in this mode (see ``magna.cmd``).
"""

from __future__ import annotations

from magna.common.context import RequestContext
from magna.policy.enforcer import Authorizer

LOCAL_ADMIN_ROLES = ("admin", "member", "reader")


class NoAuth:
    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def authenticate(self, headers: dict[str, str]) -> RequestContext:
        user = headers.get("x-user-id")
        project = headers.get("x-project-id")
        if user is None and project is None:
            context = RequestContext(user_id="admin", project_id="admin",
                                     roles=LOCAL_ADMIN_ROLES, user_name="admin",
                                     project_name="admin")
        else:
            roles = tuple(r.strip() for r in headers.get("x-roles", "").split(",") if r.strip())
            context = RequestContext(user_id=user, project_id=project, roles=roles,
                                     user_name=headers.get("x-user-name"),
                                     project_name=headers.get("x-project-name"))
        return RequestContext(**{**context.__dict__,
                                 "is_admin": self.authorizer.is_admin(context)})

    async def aclose(self) -> None:
        """Nothing to release."""

    def challenge_headers(self) -> list[tuple[bytes, bytes]]:
        return []
