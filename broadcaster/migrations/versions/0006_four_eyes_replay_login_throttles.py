"""four eyes per commune, opt-in replay of emergencies in today's sessions, login throttles in the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:40:00
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): a copied SQLite table would lose communes' AUTOINCREMENT.
    op.add_column('communes', sa.Column('four_eyes', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column('bulletins', sa.Column('replay_in_sessions', sa.Boolean(), server_default=sa.false(),
                                         nullable=False))
    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', broadcaster.db.AwareDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttles_last_failure_at'), ['last_failure_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttles_last_failure_at'))
    op.drop_table('login_throttles')
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.drop_column('replay_in_sessions')
    with op.batch_alter_table('communes', schema=None) as batch_op:
        batch_op.drop_column('four_eyes')
