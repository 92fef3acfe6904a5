"""audit log refusals on PostgreSQL raise an integrity error (SQLSTATE 23000), as on SQLite

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:40:00

A plain RAISE EXCEPTION is SQLSTATE P0001, which drivers report as a programming error; a refused
change to evidence is an integrity violation, and both backends now say so the same way.
"""

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _refuse(errcode: str) -> str:
    return ("CREATE OR REPLACE FUNCTION audit_events_refuse() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = '{errcode}'; END; "
            "$$ LANGUAGE plpgsql")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_refuse("integrity_constraint_violation"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_refuse("raise_exception"))
