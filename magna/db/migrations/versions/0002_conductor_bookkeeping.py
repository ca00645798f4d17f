"""Conductor bookkeeping: when a status began, and a per-cluster event log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:15:17.356015
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('cluster_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.uuid'], name=op.f('fk_cluster_event_cluster_id_cluster'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_event'))
    )
    with op.batch_alter_table('cluster_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_event_cluster_id'), ['cluster_id'], unique=False)

    with op.batch_alter_table('cluster', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_cluster_reservation'), ['reservation'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('cluster', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_reservation'))
        batch_op.drop_column('status_since')

    # NOTE: a table's indexes go with it; dropping one first fails on MariaDB/MySQL when a
    # foreign key needs it.
    op.drop_table('cluster_event')
