"""Who is asking: the request context built by the auth layer and passed down explicitly.

Services and the policy engine read identity only from here, never from HTTP headers, so the
same service code serves ``noauth``, Keystone tokens, the conductor and tests alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    user_id: str | None
    project_id: str | None
    roles: tuple[str, ...] = ()
    user_name: str | None = None
    project_name: str | None = None
    user_domain_id: str | None = None
    project_domain_id: str | None = None
    auth_token: str | None = None
    request_id: str = ""
    system_scope: str | None = None
    is_admin: bool = field(default=False)

    def policy_credentials(self) -> dict[str, object]:
        """The credential dictionary oslo.policy rules are evaluated against."""
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "roles": list(self.roles),
            "is_admin": self.is_admin,
            "system_scope": self.system_scope,
            "user_domain_id": self.user_domain_id,
            "project_domain_id": self.project_domain_id,
        }
