"""Who the browser is: a sealed cookie holding the Keystone token and a CSRF secret.

The cookie is Fernet-sealed (encrypted and authenticated) under a key kept in a file beside
the CA key, so every ``magna-api`` worker on the host reads every other worker's cookies and a
restart keeps users logged in. It is ``HttpOnly`` and ``SameSite=Strict`` and scoped to the
dashboard's path. With ``noauth`` there is no token: the dashboard acts as the local
administrator, like any other loopback client of that mode, and the cookie only carries the
CSRF secret that every form must echo.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "magna_dashboard"
# A sealed cookie older than this is refused even if its token has not expired (Keystone's
# default token lifetime is one hour; a longer token still ends here).
MAX_AGE_SECONDS = 12 * 3600


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token: str | None = None
    user: str = "admin"
    project: str = "admin"
    project_id: str = "admin"
    domain: str = "Default"
    roles: list[str] = field(default_factory=list)
    expires_at: str | None = None

    def expired(self) -> bool:
        if self.expires_at is None:
            return False
        expiry = datetime.fromisoformat(self.expires_at.replace("Z", "+00:00"))
        return expiry <= datetime.now(UTC)


class SessionCodec:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, session: Session) -> str:
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()

    def open(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None when it is missing, forged, stale or garbled."""
        if not cookie:
            return None
        try:
            data = json.loads(self._fernet.decrypt(cookie.encode(), ttl=MAX_AGE_SECONDS))
            return Session(**data)
        except (InvalidToken, ValueError, TypeError):
            return None
