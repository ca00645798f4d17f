"""A browser finds its way from ``/`` to the API reference; JSON clients get Magnum's root
document and a link to ``/v1/openapi.json``; a method a path lacks is a 405 with ``Allow``.

(``test_api_schemathesis.py`` checks the document against the app's answers.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from magna.api.resources.root import wants_html
from magna.cmd.api import build_app
from tests.conftest import make_conf
from tests.support.api import ApiClient
from tests.support.api_document import served_app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ApiClient]]:
    yield from served_app(tmp_path_factory.mktemp("document"))


def test_a_method_a_path_lacks_is_a_405_naming_the_others(served: tuple[Any, ApiClient]
                                                          ) -> None:
    _, api = served
    paths = api.get("/v1/openapi.json").json()["paths"]
    patterns = {template: re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
                                     + "$") for template in paths}
    for template in paths:
        path = re.sub(r"\{[^}]+\}", "x", template)
        response = api.request("TRACE", path)
        assert response.status_code == 405, (path, response.text)
        # /v1/clusters/detail also matches /v1/clusters/{ident}: the literal path's own
        # methods answer there, as the document says.
        matching = [other for other, pattern in patterns.items() if pattern.match(path)]
        own = matching if "{" in template else [template]
        declared = {method.upper() for other in own for method in paths[other]}
        assert set(response.headers["allow"].split(", ")) == declared, path


@pytest.mark.parametrize("collection", ["clusters", "bays", "clustertemplates", "baymodels",
                                        "federations"])
def test_a_detail_path_answers_get_only(served: tuple[Any, ApiClient], collection: str
                                        ) -> None:
    _, api = served
    assert api.get(f"/v1/{collection}/detail").status_code == 200
    for method in ("DELETE", "PATCH", "OPTIONS"):
        response = api.request(method, f"/v1/{collection}/detail", json=[])
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "GET"
        assert response.json()["errors"][0]["status"] == 405


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_at_the_root_is_sent_to_the_dashboard(served: tuple[Any, ApiClient]) -> None:
    _, api = served
    response = api.client.get("/", headers={"Accept": BROWSER_ACCEPT}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "http://testserver/dashboard/"


def test_without_the_dashboard_a_browser_is_sent_to_the_reference_page(tmp_path: Path) -> None:
    conf = make_conf(tmp_path, drivers={"enabled_drivers": ["fake"]},
                     dashboard={"enabled": False})
    with TestClient(build_app(conf)) as client:
        response = client.get("/", headers={"Accept": BROWSER_ACCEPT}, follow_redirects=False)
        assert response.status_code == 303
        page = client.get(response.headers["location"])
        assert client.get("/dashboard/clusters").status_code == 404
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="http://testserver/v1/openapi.json"' in page.text
    assert "/v1/clusters/{ident}/actions/resize" in page.text
    # Nothing for the browser to fetch: no script, stylesheet or image from anywhere.
    assert not re.search(r"<script|<link|<img|src=", page.text)


def test_json_clients_get_the_root_document_and_a_link_to_the_api_document(
        served: tuple[Any, ApiClient]) -> None:
    _, api = served
    for accept in (None, "application/json", "*/*"):
        headers = {"Accept": accept} if accept else {}
        response = api.client.get("/", headers=headers, follow_redirects=False)
        assert response.status_code == 200
        assert response.json()["versions"][0]["id"] == "v1"
        assert response.headers["link"] == \
            '<http://testserver/v1/openapi.json>; rel="service-desc"'


def test_the_document_and_the_page_need_no_token(tmp_path: Path) -> None:
    conf = make_conf(tmp_path, api={"auth_strategy": "keystone"},
                     keystone_authtoken={"auth_url": "http://127.0.0.1:9/v3"})
    with TestClient(build_app(conf)) as client:
        assert client.get("/v1/clusters").status_code == 401
        assert client.get("/v1/openapi.json").status_code == 200
        assert client.get("/v1/reference").status_code == 200


@pytest.mark.parametrize(("accept", "html"), [
    ("text/html", True), ("text/html;q=0.5, application/json", False),
    ("application/json, text/html", False), ("*/*", False), ("", False),
    ("text/html, */*;q=0.1", True), ("application/json;q=0.2, text/html;q=0.9", True),
    ("text/html;q=bogus", False)])
def test_html_is_for_those_who_rank_it_above_json(accept: str, html: bool) -> None:
    assert wants_html(accept) is html
