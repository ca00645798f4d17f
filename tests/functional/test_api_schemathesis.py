"""The API document tells the truth: a bounded schemathesis run against the app.

Schemathesis generates requests from ``/v1/openapi.json`` (valid and invalid ones) and sends
them to the in-process app (ASGI) with the fake driver behind it, on the embedded SQLite: no
answer may be a server error, every answer must be one the document declares for the route, in
the shape it declares, a request the document calls valid must not be refused with a 400, and
one it calls invalid must not be accepted. Deterministic: a fixed seed, derandomized, and a
fixed number of examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, seed, settings

from tests.functional.test_api_document import served_app
from tests.support.api import ApiClient

schemathesis = pytest.importorskip("schemathesis")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ApiClient]]:
    yield from served_app(tmp_path_factory.mktemp("schemathesis"))


@pytest.fixture(scope="module")
def api_schema(served: tuple[Any, ApiClient]) -> Any:
    app, _ = served
    return schemathesis.openapi.from_asgi("/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@seed(16)
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_answer_is_declared(case: Any) -> None:
    case.call_and_validate()




schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@seed(16)
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_answer_is_declared(case: Any) -> None:
    case.call_and_validate()
