"""Use cases behind the API: authorize, validate against the catalogs, persist intent.

Every public function takes the ``Services`` bundle and the caller's ``RequestContext`` and
returns read models (``readmodels.py``: what the API may read, never query) or plain values.
Each opens and commits its own transaction, so a 2xx answer means the intent is durable before
the conductor is nudged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from oslo_config import cfg
from sqlalchemy.orm import Session, sessionmaker

from magna.common.context import RequestContext
from magna.crypto.keystore import KeyStore
from magna.db.engine import read_options
from magna.db.repository import Scope
from magna.drivers.registry import DriverRegistry
from magna.policy.enforcer import Authorizer


def _no_nudge(cluster_uuid: str) -> None:
    """Default nudge: nothing listens (the conductor's periodic sweep still finds the work)."""


@dataclass
class Services:
    conf: cfg.ConfigOpts
    sessions: sessionmaker[Session]
    authz: Authorizer
    drivers: DriverRegistry
    keystore: KeyStore
    nudge: Callable[[str], None] = field(default=_no_nudge)

    def close(self) -> None:
        """Release database connections (at shutdown, and between tests)."""
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it does not wait for the write lock, on
        PostgreSQL it runs in autocommit mode (``db.engine.read_options``)."""
        with self.sessions.begin() as session:
            bind = session.get_bind()
            session.connection(execution_options=read_options(bind.engine))
            yield session


def scope_for(svc: Services, ctx: RequestContext, resource: str, action: str,
              include_public: bool = False) -> Scope:
    """Admins see every project (after the ``*_all_projects`` rule); others their own."""
    if ctx.is_admin:
        svc.authz.authorize(ctx, f"{resource}:{action}_all_projects")
        return Scope(project_id=ctx.project_id, all_projects=True)
    return Scope(project_id=ctx.project_id, include_public=include_public)


def target_of(row: object) -> dict[str, object]:
    return {"project_id": getattr(row, "project_id", None),
            "user_id": getattr(row, "user_id", None)}
