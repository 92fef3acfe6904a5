"""delivery orders (the server's outbox of signed orders) and agent reports (deduplicated by report_id)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:46:45.482791
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_reports',
    sa.Column('report_id', sa.String(length=36), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('received_at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('report_id')
    )
    with op.batch_alter_table('agent_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_reports_cluster_id'), ['cluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_agent_reports_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_agent_reports_received_at'), ['received_at'], unique=False)

    op.create_table('delivery_orders',
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('airing_id', sa.Integer(), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('priority', sa.Enum('normal', 'priority', 'emergency', name='priority', native_enum=False, length=20), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('audio_sha256', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Enum('queued', 'accepted', 'refused', 'expired', 'cancelled', name='orderstatus', native_enum=False, length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('play_at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('created_at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', broadcaster.db.AwareDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['airing_id'], ['airings.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id')
    )
    with op.batch_alter_table('delivery_orders', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_orders_airing_cluster', ['airing_id', 'cluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_orders_cluster_id'), ['cluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_orders_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delivery_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_orders_status'))
        batch_op.drop_index(batch_op.f('ix_delivery_orders_cluster_id'))
        batch_op.drop_index('ix_delivery_orders_airing_cluster')

    op.drop_table('delivery_orders')
    with op.batch_alter_table('agent_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_reports_received_at'))
        batch_op.drop_index(batch_op.f('ix_agent_reports_order_id'))
        batch_op.drop_index(batch_op.f('ix_agent_reports_cluster_id'))

    op.drop_table('agent_reports')
