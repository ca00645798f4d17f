"""The SDK's ``list_all`` and ``magna status``'s clusters row see every item when the server
answers in pages (``[api] max_limit = 2``, five clusters; fake driver)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from magna.cli import app
from magna.client import Client, ClientConfig
from tests.support.conductor import wait_for
from tests.support.server import magna_server

SERVER_CONFIG: dict[str, dict[str, object]] = {
    "api": {"max_limit": 2},
    "drivers": {"enabled_drivers": "fake"},
    "conductor": {"sweep_interval": 0.3, "heartbeat_interval": 0.5},
}
TEMPLATE = {"image_id": "fake-image", "coe": "swarm-mode", "flavor_id": "m1.small",
            "master_flavor_id": "m1.small"}


def _status_rows(url: str) -> list[dict[str, str]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = app.main(["--magna-url", url, "status", "--no-host", "-f", "json"])
    assert code == 3, out.getvalue()  # one cluster failed on purpose
    rows: list[dict[str, str]] = json.loads(out.getvalue())
    return rows


def test_every_page_is_read(tmp_path: Path) -> None:
    with magna_server(str(tmp_path / "state"), extra=SERVER_CONFIG) as server:
        client = Client(ClientConfig(url=server.url))
        template = client.cluster_templates.create(name="t", **TEMPLATE)
        names = [f"c{i}" for i in range(5)]
        for name in names:
            labels = {"fake_fail_on": "create"} if name == "c4" else {}
            client.clusters.create(name=name, cluster_template_id=template.uuid,
                                   node_count=1, labels=labels)
        assert len(client.clusters.list()) == 2
        wait_for(lambda: all(c.attrs["status"] != "CREATE_IN_PROGRESS"
                             for c in client.clusters.list_all()), 60, "the creates to end")
        assert sorted(c.name for c in client.clusters.list_all()) == names
        rows = _status_rows(server.url)
        client.close()
    summary = next(r for r in rows if r["component"] == "clusters")
    assert summary == {"component": "clusters", "name": "5 clusters", "state": "1 in trouble",
                       "detail": "by status: CREATE_COMPLETE 4, CREATE_FAILED 1; unhealthy: 0"}
    assert [r["name"] for r in rows if r["component"] == "cluster"] == ["c4"]
