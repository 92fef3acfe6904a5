"""Health and metrics queries: is the database answering, and how many bulletins are in each status."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from broadcaster.models import Bulletin


def database_ok(session: Session) -> bool:
    """True if the database answers a trivial query."""
    try:
        return session.execute(text("SELECT 1")).scalar() == 1
    except Exception:  # noqa: BLE001 - any failure means "not healthy", which is the answer we report
        return False


def bulletin_counts(session: Session) -> dict[tuple[int, str], int]:
    """Number of bulletins per (commune id, status)."""
    rows = session.execute(
        select(Bulletin.commune_id, Bulletin.status, func.count()).group_by(Bulletin.commune_id, Bulletin.status)
    ).all()
    return {(commune_id, str(status)): count for commune_id, status, count in rows}
