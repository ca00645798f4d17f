"""The fast read paths (clusters list and show, templates list) answer byte for byte what the
view functions on fully loaded rows answer when FastAPI validates and encodes them itself."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from oslo_config import cfg
from pydantic import TypeAdapter
from starlette.requests import Request

from magna.api.microversion import MAX_VERSION, Version
from magna.api.resources import clusters as cluster_views
from magna.api.resources import clustertemplates as template_views
from magna.cmd.compose import build_services
from magna.db import models
from magna.services import Services
from magna.services import clustertemplates as template_service
from tests.support.api import ApiClient, make_cluster, make_template

FASTAPI_DEFAULT = TypeAdapter(dict[str, Any])


def _encoded(body: dict[str, Any]) -> bytes:
    """What FastAPI sends for a handler that returns ``body`` under ``-> dict[str, Any]``."""
    return FASTAPI_DEFAULT.dump_json(FASTAPI_DEFAULT.validate_python(body))


def _request(svc: Services) -> Request:
    app = SimpleNamespace(state=SimpleNamespace(services=svc))
    return Request({"type": "http", "scheme": "http", "server": ("testserver", 80),
                    "path": "/", "query_string": b"", "headers": [(b"host", b"testserver")],
                    "app": app})


def _rows(svc: Services, model: type[models.Base]) -> list[Any]:
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    stmt = select(model).order_by(model.id)  # type: ignore[attr-defined]
    if model is models.Cluster:
        stmt = stmt.options(selectinload(models.Cluster.nodegroups))
    with svc.reading() as session:
        return list(session.scalars(stmt).all())


def _seed(api: ApiClient) -> None:
    plain = make_template(api, name="plain", labels={"a": "1"})
    make_template(api, name="ünïcode", labels={"emoji": "☃", "quote": 'say "hi"\n'},
                  public=True, docker_volume_size=3)
    make_cluster(api, plain["uuid"], name="first", node_count=2, labels={"b": "2"})
    make_cluster(api, "ünïcode", name="second", master_count=3, master_lb_enabled=True)


def test_reads_are_byte_identical_to_the_validated_views(api: ApiClient,
                                                          conf: cfg.ConfigOpts) -> None:
    _seed(api)
    svc = build_services(conf)
    try:
        request = _request(svc)
        clusters = _rows(svc, models.Cluster)
        templates = _rows(svc, models.ClusterTemplate)
        labels = {t.uuid: t.labels for t in templates}
        for version in (MAX_VERSION, Version(1, 1), Version(1, 12)):
            api_at = api.at_version(str(version))
            items = [{**cluster_views.summary(request, row, version),
                      "health_status": row.health_status, "merge_labels": False}
                     for row in clusters]
            listed = api_at.get("/v1/clusters?limit=50")
            assert listed.status_code == 200
            assert listed.headers["content-type"] == "application/json"
            assert listed.content == _encoded({"clusters": items})
            paged = api_at.get("/v1/clusters?limit=1")
            assert paged.content == _encoded({"clusters": items[:1], "next": (
                "http://testserver/v1/clusters?sort_key=id&sort_dir=asc&limit=1&marker="
                f"{clusters[0].uuid}")})
            for row in clusters:
                shown = api_at.get(f"/v1/clusters/{row.uuid}")
                assert shown.content == _encoded(cluster_views.view(
                    request, row, version, labels[row.cluster_template_id]))
        listed = api.get("/v1/clustertemplates?limit=50")
        assert listed.content == _encoded(
            {"clustertemplates": [template_views.view(request, template_service.row_of(row))
                                  for row in templates]})
        assert "☃".encode() in listed.content, "non-ASCII is sent as UTF-8, not escaped"
        shown = api.get(f"/v1/clustertemplates/{templates[1].uuid}")
        assert shown.content == _encoded(template_views.view(
            request, template_service.row_of(templates[1])))
    finally:
        svc.close()
