"""Fill a database with many templates and clusters straight through the ORM, in bulk.

Going through HTTP would take minutes (every cluster create generates a CA key); the API
benchmark only needs rows that look like the ones the API and conductor write. Seeded clusters
are ``CREATE_COMPLETE`` with nothing left to do, so a conductor leaves them alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from magna.db import engine as db_engine
from magna.db import migrate, models
from magna.domain import clusters as lifecycle

PROJECTS = 10
BATCH = 2000


def _template(i: int) -> dict[str, Any]:
    return {"uuid": str(uuid.uuid4()), "name": f"seed-template-{i}",
            "project_id": f"bench-project-{i % PROJECTS}", "user_id": "bench",
            "coe": "swarm-mode", "image_id": "debian-12-docker", "flavor_id": "m1.small",
            "master_flavor_id": "m1.small", "external_network_id": "public",
            "network_driver": "docker", "labels": {"seeded": "true"}, "public": i % 2 == 0}


def _cluster(i: int, template_uuid: str) -> dict[str, Any]:
    return {"uuid": str(uuid.uuid4()), "name": f"seed-cluster-{i}",
            "project_id": f"bench-project-{i % PROJECTS}", "user_id": "bench",
            "cluster_template_id": template_uuid, "labels": {"seeded": "true"},
            "flavor_id": "m1.small", "master_flavor_id": "m1.small", "create_timeout": 60,
            "status": lifecycle.CREATE_COMPLETE, "status_reason": "CREATE completed successfully",
            "health_status": lifecycle.HEALTHY,
            "api_address": f"tcp://10.0.{i // 250 % 256}.2:2375", "coe_version": "20.10.24",
            "container_version": "20.10.24", "generation": 1,
            "observed_generation": 1}


def _nodegroups(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    common = {"cluster_id": cluster["uuid"], "project_id": cluster["project_id"],
              "flavor_id": "m1.small", "image_id": "debian-12-docker", "is_default": True,
              "status": "CREATE_COMPLETE"}
    return [{**common, "uuid": str(uuid.uuid4()), "name": "default-master", "role": "master",
             "node_count": 1, "node_addresses": ["10.0.0.2"]},
            {**common, "uuid": str(uuid.uuid4()), "name": "default-worker", "role": "worker",
             "node_count": 2, "node_addresses": ["10.0.0.3", "10.0.0.4"]}]


Rows = list[dict[str, Any]]


def rows(clusters: int, templates: int) -> tuple[Rows, Rows, Rows]:
    """The seeded templates, clusters and their nodegroups, in Magna's columns (the upstream
    suite maps the same rows onto upstream Magnum's tables)."""
    tpl_rows = [_template(i) for i in range(max(templates, 1))]
    cluster_rows = [_cluster(i, tpl_rows[i % len(tpl_rows)]["uuid"]) for i in range(clusters)]
    return tpl_rows, cluster_rows, [ng for c in cluster_rows for ng in _nodegroups(c)]


def seed(url: str, clusters: int, templates: int) -> list[str]:
    """Migrate ``url`` and add the rows; returns the seeded clusters' UUIDs."""
    migrate.upgrade(url)
    engine = db_engine.make_engine(url)
    sessions = db_engine.make_session_factory(engine)
    tpl_rows, cluster_rows, ng_rows = rows(clusters, templates)
    try:
        for model, table in ((models.ClusterTemplate, tpl_rows), (models.Cluster, cluster_rows),
                             (models.NodeGroup, ng_rows)):
            for start in range(0, len(table), BATCH):
                with sessions.begin() as session:
                    session.execute(insert(model), table[start:start + BATCH])
        settle(engine)
    finally:
        engine.dispose()
    return [row["uuid"] for row in cluster_rows]


def settle(engine: Engine) -> None:
    """Leave the database as a long-running one would be, so the seeding's own aftermath is
    not measured: PostgreSQL vacuumed, with statistics, and the seeding's pages written out
    (the first scenario ran right after the bulk load, when autovacuum and a checkpoint are
    due; one run measured template create p99 562 ms at concurrency 1, the run before 12 ms);
    SQLite with its write-ahead log folded into the file. SQLite gets no ANALYZE: the embedded
    default never runs one, and its query plans must be the ones measured."""
    # Both run outside a transaction: VACUUM refuses one, and a WAL checkpoint inside one
    # finds the database locked (SQLAlchemy's connections begin one for every statement).
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("CHECKPOINT")
        return
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


@contextmanager
def scratch_postgres(host: str = "127.0.0.1", port: int = 5432) -> Iterator[str]:
    """A new, empty PostgreSQL database for one benchmark; dropped afterwards."""
    import psycopg

    name = f"magna_bench_{uuid.uuid4().hex[:10]}"
    admin = f"host={host} port={port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{host}:{port}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_database(backend: str, state_dir: Path) -> Iterator[str]:
    """The URL of an empty database: a scratch PostgreSQL one, or SQLite in ``state_dir``."""
    if backend == "postgres":
        with scratch_postgres() as url:
            yield url
    else:
        yield f"sqlite:///{state_dir / 'magna.db'}"
