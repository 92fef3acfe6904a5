"""airing items per cluster

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 03:29:13.938584
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

FK_NAME = "fk_airing_items_cluster_id_clusters"


def upgrade() -> None:
    with op.batch_alter_table('airing_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cluster_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_airing_items_cluster_id'), ['cluster_id'], unique=False)
        batch_op.create_foreign_key(FK_NAME, 'clusters', ['cluster_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('airing_items', schema=None) as batch_op:
        batch_op.drop_constraint(FK_NAME, type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_airing_items_cluster_id'))
        batch_op.drop_column('cluster_id')
