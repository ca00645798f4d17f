"""Schemathesis hooks for the command-line run (``schemathesis_cli.py`` names this module in
its configuration): the check that replaces ``positive_data_acceptance``, so that a valid
request refused for one of ``state_rules.STATE_RULES`` is not a finding and every other
refusal still is. Imported by schemathesis only, never by the suite (registering a check is
global)."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.support.state_rules import refusal_of_valid_request


@schemathesis.check
def positive_data_acceptance_but_state_rules(ctx: Any, response: Any, case: Any) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if response.status_code in (400, 413):
        problem = refusal_of_valid_request(response.status_code, response.text)
        if problem:
            raise AssertionError(problem)
        return
    positive_data_acceptance(ctx, response, case)
