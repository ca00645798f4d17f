"""Containers on swarm-mode clusters (``/v1/containers``): intent and what the engine reports.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 06:25:18.730775
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('containers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('cluster_uuid', sa.String(length=36), nullable=False),
    sa.Column('image', sa.String(length=255), nullable=False),
    sa.Column('command', sa.JSON(), nullable=False),
    sa.Column('environment', sa.JSON(), nullable=False),
    sa.Column('memory', sa.Integer(), nullable=True),
    sa.Column('desired_state', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('container_id', sa.String(length=64), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('observed_generation', sa.Integer(), nullable=False),
    sa.Column('reboot_generation', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cluster_uuid'], ['cluster.uuid'], name=op.f('fk_containers_cluster_uuid_cluster'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_containers')),
    sa.UniqueConstraint('uuid', name=op.f('uq_containers_uuid'))
    )
    with op.batch_alter_table('containers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_containers_cluster_uuid'), ['cluster_uuid'], unique=False)
        batch_op.create_index(batch_op.f('ix_containers_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_containers_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_containers_status'), ['status'], unique=False)



def downgrade() -> None:
    # NOTE: a table's indexes go with it; dropping one first fails on MariaDB/MySQL when a
    # foreign key needs it.
    op.drop_table('containers')
