"""province bulletins: the province's source system sends bulletins to its communes (TT39)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 20:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_PRIORITY = sa.Enum('normal', 'priority', 'emergency', name='priority', native_enum=False, length=20)
_STATUS = sa.Enum('draft', 'submitted', 'approved', 'rejected', 'cancelled', 'aired', 'expired',
                  name='bulletinstatus', native_enum=False, length=20)
_TARGET_STATE = sa.Enum('pending', 'accepted', 'declined', name='provincetargetstate', native_enum=False, length=20)


def upgrade() -> None:
    op.create_table('province_bulletins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('priority', _PRIORITY, nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('repeat', sa.Integer(), nullable=False),
    sa.Column('status', _STATUS, nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=True),
    sa.Column('rejection_reason', sa.Text(), nullable=True),
    sa.Column('created_at', broadcaster.db.AwareDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', broadcaster.db.AwareDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approver_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('province_bulletin_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_bulletins_province_bulletin_id'), ['province_bulletin_id'], unique=False)
        batch_op.create_foreign_key('fk_bulletins_province_bulletin_id', 'province_bulletins',
                                    ['province_bulletin_id'], ['id'], ondelete='SET NULL')
    op.create_table('province_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('province_bulletin_id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('state', _TARGET_STATE, nullable=False),
    sa.Column('bulletin_id', sa.Integer(), nullable=True),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', broadcaster.db.AwareDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bulletin_id'], ['bulletins.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['commune_id'], ['communes.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['province_bulletin_id'], ['province_bulletins.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('province_bulletin_id', 'commune_id')
    )
    with op.batch_alter_table('province_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_province_targets_commune_id'), ['commune_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('province_targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_province_targets_commune_id'))
    op.drop_table('province_targets')
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.drop_constraint('fk_bulletins_province_bulletin_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_bulletins_province_bulletin_id'))
        batch_op.drop_column('province_bulletin_id')
    op.drop_table('province_bulletins')
