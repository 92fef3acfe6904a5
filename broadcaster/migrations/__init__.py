"""Alembic migrations of the broadcaster database."""
