"""clusters: agents' public keys instead of report secrets, broker password hashes, transport link state

Existing clusters keep working: their agents derive their signing key from the secret they already
hold, so the public key is computed here from the stored secret, which is then dropped.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import broadcaster.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from broadcaster.delivery.agent_auth import agent_public_key

    with op.batch_alter_table('clusters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent_public_key', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('broker_password_hash', sa.String(length=255), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('link_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('link_changed_at', broadcaster.db.AwareDateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    clusters = sa.table('clusters', sa.column('id', sa.Integer), sa.column('report_secret', sa.String),
                        sa.column('agent_public_key', sa.String))
    for cluster_id, secret in connection.execute(sa.select(clusters.c.id, clusters.c.report_secret)).all():
        if secret:
            connection.execute(clusters.update().where(clusters.c.id == cluster_id)
                               .values(agent_public_key=agent_public_key(secret)))
    with op.batch_alter_table('clusters', schema=None) as batch_op:
        batch_op.drop_column('report_secret')
        batch_op.alter_column('agent_public_key', server_default=None)
        batch_op.alter_column('broker_password_hash', server_default=None)


def downgrade() -> None:
    # The secrets are gone for good: a downgrade leaves every cluster to be provisioned again.
    with op.batch_alter_table('clusters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_secret', sa.String(length=128), nullable=False, server_default=''))
        batch_op.drop_column('link_changed_at')
        batch_op.drop_column('link_state')
        batch_op.drop_column('broker_password_hash')
        batch_op.drop_column('agent_public_key')
