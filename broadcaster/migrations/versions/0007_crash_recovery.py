"""crash recovery: airing claims by node, partial plays, audio lookup by hash, service nodes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_nodes',
    sa.Column('node_id', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('seen_at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('node_id')
    )
    with op.batch_alter_table('airings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=200), nullable=True))
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plays', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_deliveries_audio_sha256'), ['audio_sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_audio_sha256'))
        batch_op.drop_column('plays')
    with op.batch_alter_table('airings', schema=None) as batch_op:
        batch_op.drop_column('claimed_by')
    op.drop_table('service_nodes')
