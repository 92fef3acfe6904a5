"""web administration: forced password change, retired clusters, cluster volume, timetable exceptions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.db

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: SQLite would rebuild users and communes and lose AUTOINCREMENT
    # (ids in the audit log must never be reused).
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column('clusters', sa.Column('retired_at', broadcaster.db.AwareDateTime(timezone=True), nullable=True))
    op.add_column('clusters', sa.Column('volume', sa.Integer(), nullable=True))
    op.add_column('communes', sa.Column('timetable_exceptions', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('communes', schema=None) as batch_op:
        batch_op.drop_column('timetable_exceptions')
    with op.batch_alter_table('clusters', schema=None) as batch_op:
        batch_op.drop_column('volume')
        batch_op.drop_column('retired_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
