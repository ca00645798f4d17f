"""An in-process API client for functional tests, with identities and factories.

``ApiClient`` wraps Starlette's TestClient around a real app on a real database; ``as_user``
returns a client acting as another identity (noauth headers). Factories follow
``make_<thing>(**overrides)``.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.testclient import TestClient

LATEST = {"OpenStack-API-Version": "container-infra latest"}


class ApiClient:
    def __init__(self, client: TestClient, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = {**LATEST, **(headers or {})}

    def as_user(self, project: str, roles: str = "member,reader", user: str | None = None,
                version: str | None = "latest") -> ApiClient:
        headers = {"X-User-Id": user or f"user-{project}", "X-Project-Id": project,
                   "X-Roles": roles}
        client = ApiClient(self.client, headers)
        if version is None:
            client.headers.pop("OpenStack-API-Version")
        else:
            client.headers["OpenStack-API-Version"] = f"container-infra {version}"
        return client

    def at_version(self, version: str | None) -> ApiClient:
        client = ApiClient(self.client, {k: v for k, v in self.headers.items()
                                         if k != "OpenStack-API-Version"})
        if version is None:
            client.headers.pop("OpenStack-API-Version")
        else:
            client.headers["OpenStack-API-Version"] = f"container-infra {version}"
        return client

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)


def template_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "swarm-template", "coe": "swarm-mode",
                            "image_id": "debian-12-docker", "external_network_id": "public",
                            "flavor_id": "m1.small", "master_flavor_id": "m1.small"}
    body.update(overrides)
    return body


def make_template(api: ApiClient, **overrides: Any) -> dict[str, Any]:
    response = api.post("/v1/clustertemplates", json=template_body(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def make_cluster(api: ApiClient, template: str, **overrides: Any) -> str:
    body: dict[str, Any] = {"name": "cluster1", "cluster_template_id": template,
                            "master_count": 1, "node_count": 1}
    body.update(overrides)
    response = api.post("/v1/clusters", json=body)
    assert response.status_code == 202, response.text
    uuid: str = response.json()["uuid"]
    return uuid


def assert_error(response: httpx.Response, status: int, contains: str = "") -> dict[str, Any]:
    """A Magnum-shaped error with ``status``, whose detail contains ``contains``."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["errors"][0]
    assert error["status"] == status
    assert set(error) >= {"request_id", "code", "status", "title", "detail", "links"}
    assert contains in error["detail"], error
    return error
