"""voices: a bulletin's voice, a commune's default voice and speaking rate

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 11:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voice', sa.String(length=160), nullable=True))
    with op.batch_alter_table('communes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_voice', sa.String(length=160), nullable=True))
        batch_op.add_column(sa.Column('speech_rate', sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('communes', schema=None) as batch_op:
        batch_op.drop_column('speech_rate')
        batch_op.drop_column('default_voice')
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.drop_column('voice')
