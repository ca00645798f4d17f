"""Structured cluster health: ``health_conditions`` replaces ``health_status_reason``.

Each entry is an object ``{"node", "condition", "healthy", "reason"}``; the API renders Magnum's
``health_status_reason`` dict from them. Existing rows are converted both ways: a
``"<node>.Ready": "True" | "False[: reason]"`` entry becomes a Ready condition, ``"api": "ok"``
a healthy API entry, anything else a free-form entry (no condition) that renders back as given.

NOTE: the conversion is written out here rather than imported from ``magna.domain``: a migration
must keep meaning what it meant when it was written.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 03:30:00.000000
"""
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

READY = ".Ready"


def _entry(key: str, value: Any) -> dict[str, Any]:
    text = str(value)
    entry: dict[str, Any] = {"node": key, "condition": None, "healthy": None, "reason": text}
    if key == "api" and text == "ok":
        entry.update(healthy=True, reason="")
    elif key.endswith(READY) and (text in ("True", "False") or
                                  (text.startswith("False: ") and text[7:])):
        entry.update(node=key[:-len(READY)], condition="Ready", healthy=text == "True",
                     reason=text[7:])
    return entry


def _rendered(entry: dict[str, Any]) -> tuple[str, str]:
    node, condition, reason = entry["node"], entry.get("condition"), entry.get("reason") or ""
    if condition is None:
        return node, "ok" if node == "api" and entry.get("healthy") is True else reason
    if entry.get("healthy"):
        return f"{node}.{condition}", "True"
    return f"{node}.{condition}", f"False: {reason}" if reason else "False"


def _convert(source: str, target: str, convert: Any) -> None:
    cluster = sa.table('cluster', sa.column('id', sa.Integer()),
                       sa.column(source, sa.JSON()), sa.column(target, sa.JSON()))
    bind = op.get_bind()
    for row_id, value in bind.execute(sa.select(cluster.c.id, cluster.c[source])).all():
        bind.execute(cluster.update().where(cluster.c.id == row_id)
                     .values({target: convert(value)}))


def upgrade() -> None:
    with op.batch_alter_table('cluster', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_conditions', sa.JSON(), nullable=True))
    _convert('health_status_reason', 'health_conditions',
             lambda reason: [_entry(k, v) for k, v in (reason or {}).items()])
    with op.batch_alter_table('cluster', schema=None) as batch_op:
        batch_op.alter_column('health_conditions', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('health_status_reason')


def downgrade() -> None:
    with op.batch_alter_table('cluster', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_status_reason', sa.JSON(), nullable=True))
    _convert('health_conditions', 'health_status_reason',
             lambda conditions: dict(_rendered(e) for e in conditions or ()))
    with op.batch_alter_table('cluster', schema=None) as batch_op:
        batch_op.alter_column('health_status_reason', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('health_conditions')
