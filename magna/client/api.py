"""The low-level SDK layer: one method per REST endpoint, JSON in, JSON out.

Every request carries ``OpenStack-API-Version: container-infra <version>`` and, when there is
one, ``X-Auth-Token``. Errors become ``errors.ClientError`` subclasses with the server's message;
a server that does not answer becomes ``errors.Unreachable`` with a hint. Nothing here knows
about models or output: ``models.py`` builds on top.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from magna.client import errors, keystone
from magna.client.config import ClientConfig

JSON = dict[str, Any]
Patch = list[dict[str, Any]]


class Api:
    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        token, url = config.token, config.url
        if token is None and keystone.wanted(config.keystone):
            token, endpoint = keystone.login(config.keystone, timeout=config.timeout)
            if endpoint and not config.url_given:
                url = endpoint.rstrip("/").removesuffix("/v1")
        self.url = url
        headers = {"OpenStack-API-Version": f"container-infra {config.api_version}",
                   "Accept": "application/json", "User-Agent": "magna-client"}
        if token:
            headers["X-Auth-Token"] = token
        self._http = httpx.Client(base_url=url, headers=headers, timeout=config.timeout)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, body: Any = None,
                params: dict[str, Any] | None = None) -> Any:
        """Send one request; the decoded JSON body, or None for an empty one."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=body, params=query)
        except httpx.HTTPError as exc:
            raise errors.Unreachable(f"Cannot reach the Magna API at {self.url} ({exc}). "
                                     f"Is `magna serve` running? MAGNA_URL={self.url}") from None
        if response.status_code >= 400:
            raise errors.from_response(response.status_code, response.content)
        return response.json() if response.content else None

    # -- discovery ---------------------------------------------------------------------------
    def versions(self) -> JSON:
        return self._json("GET", "/")

    def v1(self) -> JSON:
        return self._json("GET", "/v1")

    # -- collections with list/get/create/update/delete -------------------------------------
    # ``collection`` is a path under /v1: "clusters", "clustertemplates", "bays", "baymodels",
    # "keypairs", "quotas" (ident "PROJECT/RESOURCE"), "clusters/C/nodegroups", "containers",
    # "federations".
    def listing(self, collection: str, **params: Any) -> list[JSON]:
        data = self._json("GET", f"/v1/{collection}", params=params)
        # NOTE: nested collections ("clusters/C/nodegroups") answer under their last segment.
        items: list[JSON] = data.get(collection.rsplit("/", 1)[-1], [])
        return items

    def listing_all(self, collection: str, **params: Any) -> list[JSON]:
        """Every item, page after page: each page's ``next`` link gives the following query
        (a page holds at most the server's ``[api] max_limit`` items)."""
        items: list[JSON] = []
        while True:
            data = self._json("GET", f"/v1/{collection}", params=params)
            items += data.get(collection.rsplit("/", 1)[-1], [])
            if not data.get("next"):
                return items
            params = dict(parse_qsl(urlsplit(data["next"]).query))

    def get(self, collection: str, ident: str) -> JSON:
        return self._json("GET", f"/v1/{collection}/{ident}")

    def create(self, collection: str, body: JSON) -> JSON:
        return self._json("POST", f"/v1/{collection}", body=body)

    def update(self, collection: str, ident: str, patch: Patch, *,
               rollback: bool = False) -> JSON:
        params = {"rollback": "True"} if rollback else None
        return self._json("PATCH", f"/v1/{collection}/{ident}", body=patch, params=params)

    def delete(self, collection: str, ident: str) -> None:
        self.request("DELETE", f"/v1/{collection}/{ident}")

    # -- cluster actions and Magna's events extension ---------------------------------------
    def resize_cluster(self, uuid: str, body: JSON) -> JSON:
        return self._json("POST", f"/v1/clusters/{uuid}/actions/resize", body=body)

    def upgrade_cluster(self, uuid: str, body: JSON) -> JSON:
        return self._json("POST", f"/v1/clusters/{uuid}/actions/upgrade", body=body)

    def cluster_events(self, ident: str, limit: int | None = None) -> list[JSON]:
        data = self._json("GET", f"/v1/clusters/{ident}/events", params={"limit": limit})
        events: list[JSON] = data.get("events", [])
        return events

    # -- containers (Magna's extension): actions, exec and logs ------------------------------
    def container_action(self, ident: str, action: str) -> JSON:
        """``start``, ``stop``, ``reboot``, ``pause`` or ``unpause``; the container document."""
        return self._json("POST", f"/v1/containers/{ident}/{action}")

    def container_exec(self, ident: str, command: str | list[str]) -> JSON:
        return self._json("POST", f"/v1/containers/{ident}/exec", body={"command": command})

    def container_logs(self, ident: str, tail: int | str | None = None) -> JSON:
        return self._json("GET", f"/v1/containers/{ident}/logs", params={"tail": tail})

    # -- Kubernetes objects (Magna's extension): "pods", "rcs", "services" ------------------
    # A cluster's objects are named by name, in a namespace (``default`` when None).
    def coe_objects(self, collection: str, cluster: str,
                    namespace: str | None = None) -> list[JSON]:
        data = self._json("GET", f"/v1/{collection}",
                          params={"bay_ident": cluster, "namespace": namespace})
        items: list[JSON] = data.get(collection, [])
        return items

    def coe_object(self, collection: str, name: str, cluster: str,
                   namespace: str | None = None) -> JSON:
        return self._json("GET", f"/v1/{collection}/{name}",
                          params={"bay_ident": cluster, "namespace": namespace})

    def create_coe_object(self, collection: str, cluster: str, manifest: str) -> JSON:
        return self._json("POST", f"/v1/{collection}",
                          body={"manifest": manifest, "bay_uuid": cluster})

    def update_coe_object(self, collection: str, name: str, cluster: str, patch: Patch,
                          namespace: str | None = None) -> JSON:
        return self._json("PATCH", f"/v1/{collection}/{name}", body=patch,
                          params={"bay_ident": cluster, "namespace": namespace})

    def delete_coe_object(self, collection: str, name: str, cluster: str,
                          namespace: str | None = None) -> None:
        self.request("DELETE", f"/v1/{collection}/{name}",
                     params={"bay_ident": cluster, "namespace": namespace})

    # -- certificates -----------------------------------------------------------------------
    def get_ca(self, cluster: str, ca_cert_type: str | None = None) -> JSON:
        return self._json("GET", f"/v1/certificates/{cluster}",
                          params={"ca_cert_type": ca_cert_type})

    def sign(self, cluster_uuid: str, csr: str) -> JSON:
        return self._json("POST", "/v1/certificates",
                          body={"cluster_uuid": cluster_uuid, "csr": csr})

    def rotate_ca(self, cluster: str) -> JSON:
        return self._json("PATCH", f"/v1/certificates/{cluster}")

    # -- quotas (addressed by project and resource) and stats --------------------------------
    def update_quota(self, project_id: str, resource: str, hard_limit: int) -> JSON:
        return self._json("PATCH", f"/v1/quotas/{project_id}/{resource}",
                          body={"project_id": project_id, "resource": resource,
                                "hard_limit": hard_limit})

    def stats(self, project_id: str | None = None) -> JSON:
        return self._json("GET", "/v1/stats", params={"project_id": project_id})

    def _json(self, method: str, path: str, **kwargs: Any) -> JSON:
        data = self.request(method, path, **kwargs)
        return data if isinstance(data, dict) else {}
