"""A served noauth API answers loopback host names only: a web page that rebinds its own name
to 127.0.0.1 gets 400 and changes nothing (``magna.api.loopback``).

Real ``magna serve`` processes (one API worker, and two: workers build the app themselves);
the requests go to 127.0.0.1 and name other hosts in their Host header, as a browser does
after a DNS rebinding.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.server import magna_server

TEMPLATE = {"name": "rebound", "coe": "swarm-mode", "image_id": "debian-12-docker",
            "external_network_id": "public"}
HEADERS = {"OpenStack-API-Version": "container-infra latest"}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_request_naming_another_host_is_refused_and_changes_nothing(
        tmp_path: Path, workers: int) -> None:
    extra: dict[str, dict[str, object]] = {"api": {"workers": workers}}
    with magna_server(str(tmp_path / "state"), extra=extra) as server, \
            httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as http:
        port = server.url.rsplit(":", 1)[1]
        refused = http.post("/v1/clustertemplates", json=TEMPLATE,
                            headers={"Host": f"attacker.example:{port}"})
        assert refused.status_code == 400
        (error,) = refused.json()["errors"]
        assert "attacker.example" in error["detail"] and "noauth" in error["detail"]
        assert http.get("/v1/clusters", headers={"Host": "attacker.example"}).status_code == 400
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            listed = http.get("/v1/clustertemplates", headers={"Host": host})
            assert listed.status_code == 200 and listed.json()["clustertemplates"] == []
        created = http.post("/v1/clustertemplates", json=TEMPLATE)
        assert created.status_code == 201, created.text
