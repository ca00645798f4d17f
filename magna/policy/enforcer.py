"""One place that answers "may this context do that to this target?"."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from oslo_config import cfg
from oslo_policy import policy

from magna.common.context import RequestContext
from magna.common.exceptions import NotAuthorized
from magna.policy import rules

NO_PROJECT = "\x00no-project"
NO_USER = "\x00no-user"
# How long a policy file change may take to apply. oslo.policy looks for the file (every config
# directory, then each policy directory) and stats it on every check, three checks a request.
RELOAD_INTERVAL = 1.0


class _Enforcer(policy.Enforcer):
    """oslo.policy's enforcer that looks for changed policy files at most once a second."""

    _next_look = 0.0

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if force_reload or now >= self._next_look:
            super().load_rules(force_reload)
            self._next_look = now + RELOAD_INTERVAL


class Authorizer:
    """Wraps an oslo.policy ``Enforcer`` loaded with Magnum's defaults and the policy file."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._enforcer = _Enforcer(conf)
        self._enforcer.register_defaults(rules.list_rules())

    def is_admin(self, context: RequestContext) -> bool:
        return bool(self._enforcer.enforce("context_is_admin", {},
                                           context.policy_credentials()))

    def check(self, context: RequestContext, rule: str,
              target: Mapping[str, Any] | None = None) -> bool:
        creds = context.policy_credentials()
        # NOTE: oslo.policy compares string forms, so a caller without a project would match a
        # target without one ("None" == "None"). A caller with no project owns no project.
        if creds.get("project_id") is None:
            creds["project_id"] = NO_PROJECT
        if creds.get("user_id") is None:
            creds["user_id"] = NO_USER
        if target is None:
            target = {"project_id": context.project_id, "user_id": context.user_id}
        return bool(self._enforcer.enforce(rule, dict(target), creds))

    def authorize(self, context: RequestContext, rule: str,
                  target: Mapping[str, Any] | None = None) -> None:
        if not self.check(context, rule, target):
            raise NotAuthorized(f"Policy doesn't allow {rule} to be performed.")
