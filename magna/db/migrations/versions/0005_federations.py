"""Federations (``/v1/federations``): the federation and one row per member cluster.

The host is referenced without cascading (a host cluster's row cannot go while it hosts a
federation); memberships go with their federation or their cluster.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 09:21:57.367415
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('federation',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('hostcluster_id', sa.String(length=36), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['hostcluster_id'], ['cluster.uuid'], name=op.f('fk_federation_hostcluster_id_cluster')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federation')),
    sa.UniqueConstraint('uuid', name=op.f('uq_federation_uuid'))
    )
    with op.batch_alter_table('federation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federation_hostcluster_id'), ['hostcluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_federation_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_federation_project_id'), ['project_id'], unique=False)

    op.create_table('federation_member',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('federation_id', sa.String(length=36), nullable=False),
    sa.Column('cluster_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.uuid'], name=op.f('fk_federation_member_cluster_id_cluster'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['federation_id'], ['federation.uuid'], name=op.f('fk_federation_member_federation_id_federation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_federation_member')),
    sa.UniqueConstraint('federation_id', 'cluster_id', name=op.f('uq_federation_member_federation_id_cluster_id'))
    )
    with op.batch_alter_table('federation_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_federation_member_cluster_id'), ['cluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_federation_member_federation_id'), ['federation_id'], unique=False)


def downgrade() -> None:
    # NOTE: a table's indexes go with it; dropping one first fails on MariaDB/MySQL when a
    # foreign key needs it.
    op.drop_table('federation_member')
    op.drop_table('federation')
