"""The app whose API document the tests read, in process, with something in it to read.

``served_app`` builds the API on the fake driver (embedded SQLite in a temporary directory)
and makes a template and a cluster, so that paths naming one find it. The document's own tests
(``test_api_document.py``) and the schemathesis run (``test_api_schemathesis.py``) each serve
one from a module fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from magna.cmd.api import build_app
from tests.conftest import make_conf
from tests.support.api import ApiClient, make_cluster
from tests.support.conductor import fake_template_body


def served_app(tmp: Path) -> Iterator[tuple[Any, ApiClient]]:
    """An app on the fake driver with a template and a cluster in it (reads find something)."""
    app = build_app(make_conf(tmp, drivers={"enabled_drivers": ["fake"]}))
    with TestClient(app) as client:
        api = ApiClient(client)
        template = api.post("/v1/clustertemplates", json=fake_template_body())
        make_cluster(api, template.json()["uuid"])
        yield app, api
