"""The API document tells the truth: a bounded schemathesis run against the app.

Schemathesis generates requests from ``/v1/openapi.json``, valid ones and invalid ones, and
sends them to the in-process app (ASGI) with the fake driver behind it, on the embedded SQLite.
All its checks run: no answer is a server error, every answer is one the document declares for
the route, in the shape it declares (with ``Allow`` on a 405), a request the document calls
invalid is refused, and one it calls valid is not refused with a 400, except for the rules
``tests/support/state_rules.py`` names. Deterministic: a fixed seed, derandomized, a fixed
number of examples. ``tests/support/schemathesis_cli.py`` runs the same checks, longer, with
schemathesis' own command against a ``magna serve`` process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable

from tests.support.api import ApiClient
from tests.support.api_document import served_app
from tests.support.state_rules import refusal_of_valid_request

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

EXAMPLES = 12
# NOTE: a 413 refuses an invalid request too: the body limit is checked before the body is read
# (a manifest of 128 KiB cannot fit in the default 112 KiB body).
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415",
                          "422"]}}})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ApiClient]]:
    yield from served_app(tmp_path_factory.mktemp("schemathesis"))


@pytest.fixture(scope="module")
def operations(served: tuple[Any, ApiClient]) -> dict[str, Any]:
    app, _ = served
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", app, config=CONFIG)
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[operation.label] = operation
    return found


def _accepted_unless_state(response: Any) -> None:
    """positive_data_acceptance, less the ``STATE_RULES``."""
    if response.status_code in (400, 413):
        problem = refusal_of_valid_request(response.status_code, response.text)
        assert problem is None, problem


def _run(operation: Any, mode: Any) -> None:
    @seed(16)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
        if mode == GenerationMode.POSITIVE:
            _accepted_unless_state(response)

    check()


def test_the_document_loads(operations: dict[str, Any]) -> None:
    assert "POST /v1/clusters" in operations
    assert len(operations) > 70


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_every_answer_is_declared(operations: dict[str, Any], mode: str) -> None:
    failures = []
    for label, operation in operations.items():
        try:
            _run(operation, GenerationMode(mode))
        except Unsatisfiable:
            # NOTE: only routes that take nothing (GET / and /healthcheck) have no invalid
            # request to make; the positive run covers them.
            assert mode == "negative" and label in ("GET /", "GET /healthcheck"), label
        except Exception as exc:  # collected, to report every operation at once
            failures.append(f"{label}: {exc}")
    assert not failures, "\n\n".join(failures)
