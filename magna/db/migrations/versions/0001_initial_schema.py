"""Initial schema: templates, clusters, nodegroups, CAs, services, quotas.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 03:29:14.134822
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('cluster_template_id', sa.String(length=36), nullable=False),
    sa.Column('keypair', sa.String(length=255), nullable=True),
    sa.Column('docker_volume_size', sa.Integer(), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('master_flavor_id', sa.String(length=255), nullable=True),
    sa.Column('flavor_id', sa.String(length=255), nullable=True),
    sa.Column('create_timeout', sa.Integer(), nullable=True),
    sa.Column('discovery_url', sa.String(length=255), nullable=True),
    sa.Column('stack_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('health_status', sa.String(length=20), nullable=True),
    sa.Column('health_status_reason', sa.JSON(), nullable=False),
    sa.Column('api_address', sa.String(length=255), nullable=True),
    sa.Column('coe_version', sa.String(length=255), nullable=True),
    sa.Column('container_version', sa.String(length=255), nullable=True),
    sa.Column('fixed_network', sa.String(length=255), nullable=True),
    sa.Column('fixed_subnet', sa.String(length=255), nullable=True),
    sa.Column('floating_ip_enabled', sa.Boolean(), nullable=False),
    sa.Column('master_lb_enabled', sa.Boolean(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('observed_generation', sa.Integer(), nullable=False),
    sa.Column('desired_state', sa.String(length=20), nullable=False),
    sa.Column('max_batch_size', sa.Integer(), nullable=True),
    sa.Column('reservation', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster')),
    sa.UniqueConstraint('uuid', name=op.f('uq_cluster_uuid'))
    )
    with op.batch_alter_table('cluster', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_cluster_template_id'), ['cluster_template_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_status'), ['status'], unique=False)

    op.create_table('cluster_template',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('user_id', sa.String(length=255), nullable=True),
    sa.Column('coe', sa.String(length=255), nullable=False),
    sa.Column('image_id', sa.String(length=255), nullable=False),
    sa.Column('flavor_id', sa.String(length=255), nullable=True),
    sa.Column('master_flavor_id', sa.String(length=255), nullable=True),
    sa.Column('dns_nameserver', sa.String(length=255), nullable=True),
    sa.Column('keypair_id', sa.String(length=255), nullable=True),
    sa.Column('external_network_id', sa.String(length=255), nullable=True),
    sa.Column('fixed_network', sa.String(length=255), nullable=True),
    sa.Column('fixed_subnet', sa.String(length=255), nullable=True),
    sa.Column('network_driver', sa.String(length=255), nullable=True),
    sa.Column('volume_driver', sa.String(length=255), nullable=True),
    sa.Column('apiserver_port', sa.Integer(), nullable=True),
    sa.Column('docker_volume_size', sa.Integer(), nullable=True),
    sa.Column('docker_storage_driver', sa.String(length=255), nullable=True),
    sa.Column('cluster_distro', sa.String(length=255), nullable=True),
    sa.Column('http_proxy', sa.String(length=255), nullable=True),
    sa.Column('https_proxy', sa.String(length=255), nullable=True),
    sa.Column('no_proxy', sa.String(length=255), nullable=True),
    sa.Column('registry_enabled', sa.Boolean(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('tls_disabled', sa.Boolean(), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.Column('server_type', sa.String(length=255), nullable=False),
    sa.Column('insecure_registry', sa.String(length=255), nullable=True),
    sa.Column('master_lb_enabled', sa.Boolean(), nullable=False),
    sa.Column('floating_ip_enabled', sa.Boolean(), nullable=False),
    sa.Column('tags', sa.String(length=255), nullable=True),
    sa.Column('driver', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_template')),
    sa.UniqueConstraint('uuid', name=op.f('uq_cluster_template_uuid'))
    )
    with op.batch_alter_table('cluster_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_template_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_template_project_id'), ['project_id'], unique=False)

    op.create_table('magnum_service',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('binary', sa.String(length=255), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=255), nullable=True),
    sa.Column('last_seen_up', sa.DateTime(timezone=True), nullable=True),
    sa.Column('forced_down', sa.Boolean(), nullable=False),
    sa.Column('report_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_magnum_service')),
    sa.UniqueConstraint('host', 'binary', name=op.f('uq_magnum_service_host_binary'))
    )
    op.create_table('quotas',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=255), nullable=False),
    sa.Column('hard_limit', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotas')),
    sa.UniqueConstraint('project_id', 'resource', name=op.f('uq_quotas_project_id_resource'))
    )
    with op.batch_alter_table('quotas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quotas_project_id'), ['project_id'], unique=False)

    op.create_table('certificate_authority',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('cluster_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=False),
    sa.Column('encrypted_private_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.uuid'], name=op.f('fk_certificate_authority_cluster_id_cluster'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_authority')),
    sa.UniqueConstraint('cluster_id', 'kind', name=op.f('uq_certificate_authority_cluster_id_kind'))
    )
    with op.batch_alter_table('certificate_authority', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_authority_cluster_id'), ['cluster_id'], unique=False)

    op.create_table('nodegroup',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('cluster_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=True),
    sa.Column('docker_volume_size', sa.Integer(), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('flavor_id', sa.String(length=255), nullable=True),
    sa.Column('image_id', sa.String(length=255), nullable=True),
    sa.Column('node_addresses', sa.JSON(), nullable=False),
    sa.Column('node_count', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=255), nullable=False),
    sa.Column('min_node_count', sa.Integer(), nullable=False),
    sa.Column('max_node_count', sa.Integer(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('stack_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('version', sa.String(length=20), nullable=True),
    sa.Column('node_labels', sa.JSON(), nullable=False),
    sa.Column('node_taints', sa.JSON(), nullable=False),
    sa.Column('nodes_to_remove', sa.JSON(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('desired_state', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.uuid'], name=op.f('fk_nodegroup_cluster_id_cluster'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nodegroup')),
    sa.UniqueConstraint('cluster_id', 'name', name=op.f('uq_nodegroup_cluster_id_name')),
    sa.UniqueConstraint('uuid', name=op.f('uq_nodegroup_uuid'))
    )
    with op.batch_alter_table('nodegroup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nodegroup_cluster_id'), ['cluster_id'], unique=False)



def downgrade() -> None:
    # NOTE: a table's indexes go with it; dropping one first fails on MariaDB/MySQL when a
    # foreign key needs it.
    op.drop_table('nodegroup')
    op.drop_table('certificate_authority')
    op.drop_table('quotas')
    op.drop_table('magnum_service')
    op.drop_table('cluster_template')
    op.drop_table('cluster')
