"""Alembic environment: runs migrations online against the configured URL, one transaction
per revision."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from magna.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


def _run(connection: Connection) -> None:
    if connection.dialect.name in ("mysql", "mariadb"):
        _binary_collation_by_default(connection)
    # NOTE: one transaction per revision, and the version row written in each: on MariaDB/MySQL,
    # whose DDL commits at once, a failure leaves the revisions before it recorded as done
    # rather than done and forgotten.
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def _binary_collation_by_default(connection: Connection) -> None:
    """Tables a revision creates on MariaDB/MySQL compare text byte for byte (``utf8mb4_bin``),
    as SQLite and PostgreSQL do, whatever collation the database was created with; a
    database created as the README says is left alone (no ALTER privilege needed)."""
    current = connection.execute(text(
        "SELECT default_collation_name FROM information_schema.schemata "
        "WHERE schema_name = DATABASE()")).scalar()
    if current != "utf8mb4_bin":
        connection.execute(text("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    connection.commit()


run_migrations_online()
