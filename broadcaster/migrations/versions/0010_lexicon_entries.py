"""lexicon entries: each commune's own lexicon, edited on the page "Từ điển địa phương"

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lexicon_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('written', sa.String(length=120), nullable=False),
    sa.Column('spoken', sa.String(length=400), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['communes.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('commune_id', 'written', name='uq_lexicon_entries_commune_written')
    )
    with op.batch_alter_table('lexicon_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lexicon_entries_commune_id'), ['commune_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lexicon_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lexicon_entries_commune_id'))
    op.drop_table('lexicon_entries')
