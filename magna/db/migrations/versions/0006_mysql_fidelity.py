"""MariaDB/MySQL: timestamps keep microseconds and text compares byte for byte.

On every other backend this revision changes nothing. On MariaDB/MySQL, the earlier revisions
made ``DATETIME`` columns of whole seconds (heartbeats, timeouts and the order of events need
the fraction the other backends keep) and, in a database created without a collation, text
columns that compare without regard to case (``"web"`` would find a cluster named ``"Web"``,
and two templates differing only in case would be "the same name"). This revision makes every
timestamp ``DATETIME(6)`` and every table ``utf8mb4_bin``.

NOTE: MariaDB and MySQL commit each DDL statement on its own, so a failure midway leaves some
tables converted. Each step here checks what it is about to change and skips what is already
done, so running the upgrade again finishes the job.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 10:45:00.000000
"""
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# The tables as of revision 0005, written out: a migration keeps meaning what it meant.
TABLES = ('cluster', 'cluster_template', 'nodegroup', 'certificate_authority', 'magnum_service',
          'quotas', 'cluster_event', 'containers', 'federation', 'federation_member')
CHARSET, COLLATION = 'utf8mb4', 'utf8mb4_bin'


def _on_mysql() -> bool:
    return op.get_bind().dialect.name in ('mysql', 'mariadb')


def _table_collation(table: str) -> str:
    return str(op.get_bind().execute(sa.text(
        "SELECT table_collation FROM information_schema.tables "
        "WHERE table_schema = DATABASE() AND table_name = :name"), {"name": table}).scalar())


def _datetimes(table: str) -> list[Any]:
    columns = sa.inspect(op.get_bind()).get_columns(table)
    return [c for c in columns if isinstance(c['type'], sa.DateTime)]


def _set_precision(fsp: int | None) -> None:
    for table in TABLES:
        for column in _datetimes(table):
            if getattr(column['type'], 'fsp', None) == fsp:
                continue
            op.alter_column(table, column['name'], type_=mysql.DATETIME(fsp=fsp),
                            existing_type=column['type'],
                            existing_nullable=column['nullable'])


def upgrade() -> None:
    if not _on_mysql():
        return
    for table in TABLES:
        if _table_collation(table) != COLLATION:
            op.execute(f"ALTER TABLE `{table}` CONVERT TO CHARACTER SET {CHARSET} "
                       f"COLLATE {COLLATION}")
    _set_precision(6)


def downgrade() -> None:
    # NOTE: the collation stays: text compared byte for byte is what every revision expects.
    if _on_mysql():
        _set_precision(None)
