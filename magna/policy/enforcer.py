"""One place that answers "may this context do that to this target?"."""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping
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
# Decisions remembered between two looks at the policy files, at most.
MAX_DECISIONS = 10_000


class _Enforcer(policy.Enforcer):
    """oslo.policy's enforcer that looks for changed policy files at most once a second, and
    remembers its decisions until it looks again."""

    _next_look = 0.0

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self.decisions: dict[Hashable, bool] = {}

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if force_reload or now >= self._next_look:
            super().load_rules(force_reload)
            self._next_look = now + RELOAD_INTERVAL
            self.decisions = {}


class Authorizer:
    """Wraps an oslo.policy ``Enforcer`` loaded with Magnum's defaults and the policy file."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._enforcer = _Enforcer(conf)
        self._enforcer.register_defaults(rules.list_rules())

    def is_admin(self, context: RequestContext) -> bool:
        return self._enforce("context_is_admin", {}, context.policy_credentials())

    def _enforce(self, rule: str, target: Mapping[str, Any], creds: dict[str, Any]) -> bool:
        """oslo.policy's decision, remembered: a check inspects every rule's signature and is a
        sizeable part of a read. Decisions depend only on the rule, the target, the
        credentials and the rules loaded, and are forgotten whenever the files are looked at."""
        enforcer = self._enforcer
        enforcer.load_rules()
        try:
            key = (rule, frozenset(target.items()),
                   frozenset((k, tuple(v) if isinstance(v, list) else v)
                             for k, v in creds.items()))
        except TypeError:  # an unhashable value: decide without remembering
            return bool(enforcer.enforce(rule, dict(target), creds))
        found = enforcer.decisions.get(key)
        if found is None:
            found = bool(enforcer.enforce(rule, dict(target), creds))
            if len(enforcer.decisions) < MAX_DECISIONS:
                enforcer.decisions[key] = found
        return found

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
        return self._enforce(rule, target, creds)

    def authorize(self, context: RequestContext, rule: str,
                  target: Mapping[str, Any] | None = None) -> None:
        if not self.check(context, rule, target):
            raise NotAuthorized(f"Policy doesn't allow {rule} to be performed.")
