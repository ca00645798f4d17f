"""Migrations apply upward on real databases and leave exactly the schema the models declare."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from magna.db import migrate
from magna.db.models import Base


def test_upgrade_creates_every_table(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    engine = create_engine(empty_db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrated_schema_matches_the_models(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_each_revision_applies_in_order(empty_db_url: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(empty_db_url))
    revisions = list(reversed(list(script.walk_revisions())))
    for revision in revisions:
        migrate.upgrade(empty_db_url, revision.revision)
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    assert current == tuple(script.get_heads())


def test_upgrade_twice_is_harmless(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    migrate.upgrade(empty_db_url)
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    assert current == migrate.current_heads()


def test_downgrade_to_nothing_and_up_again(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    command.downgrade(migrate.alembic_config(empty_db_url), "base")
    engine = create_engine(empty_db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    migrate.upgrade(empty_db_url)
    engine = create_engine(empty_db_url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_mariadb_compares_text_byte_for_byte_and_keeps_microseconds(empty_db_url: str
                                                                    ) -> None:
    """A database made with the server's defaults (case-insensitive, whole-second DATETIME)
    comes out of the migrations as the models need it."""
    if not empty_db_url.startswith("mysql"):
        pytest.skip("collations and DATETIME precision are MariaDB's questions")
    migrate.upgrade(empty_db_url)
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            collations = dict(connection.execute(sa.text(
                "SELECT table_name, table_collation FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name <> 'alembic_version'")).all())
            text_columns = set(connection.execute(sa.text(
                "SELECT collation_name FROM information_schema.columns WHERE table_schema = "
                "DATABASE() AND collation_name IS NOT NULL AND table_name <> "
                "'alembic_version'")).scalars())
            precisions = set(connection.execute(sa.text(
                "SELECT datetime_precision FROM information_schema.columns WHERE "
                "table_schema = DATABASE() AND data_type = 'datetime'")).scalars())
    finally:
        engine.dispose()
    assert set(collations) == set(Base.metadata.tables)
    assert set(collations.values()) == {"utf8mb4_bin"}
    assert text_columns == {"utf8mb4_bin"}
    assert precisions == {6}


OLD_REASON = {"api": "ok", "m-1.Ready": "True", "w-2.Ready": "False: engine down",
              "w-3.Ready": "False", "custom": "set by an admin"}


def _cluster_rows(url: str, column: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            table = sa.table("cluster", sa.column(column, sa.JSON()))
            return list(connection.execute(sa.select(table.c[column])).scalars())
    finally:
        engine.dispose()


def test_health_becomes_structured_and_back(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url, "0003")
    engine = create_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO cluster (uuid, cluster_template_id, labels, health_status_reason, "
                "floating_ip_enabled, master_lb_enabled, generation, observed_generation, "
                "desired_state, created_at) VALUES ('c-1', 't-1', '{}', :reason, true, false, "
                "1, 1, 'present', CURRENT_TIMESTAMP)"), {"reason": json.dumps(OLD_REASON)})
    finally:
        engine.dispose()
    migrate.upgrade(empty_db_url)
    assert _cluster_rows(empty_db_url, "health_conditions") == [[
        {"node": "api", "condition": None, "healthy": True, "reason": ""},
        {"node": "m-1", "condition": "Ready", "healthy": True, "reason": ""},
        {"node": "w-2", "condition": "Ready", "healthy": False, "reason": "engine down"},
        {"node": "w-3", "condition": "Ready", "healthy": False, "reason": ""},
        {"node": "custom", "condition": None, "healthy": None, "reason": "set by an admin"}]]
    command.downgrade(migrate.alembic_config(empty_db_url), "0003")
    assert _cluster_rows(empty_db_url, "health_status_reason") == [OLD_REASON]
