"""The audit log: append-only events of who did what and when.

Events are written in the same transaction as the change they describe, so a change and its
event are committed together or not at all. The database refuses updates and deletes (triggers
in the initial migration).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.models import AuditEvent, User


class AuditAction(enum.StrEnum):
    """The actions the audit log records."""

    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    EMERGENCY = "emergency"
    EMERGENCY_STOP = "emergency_stop"
    CANCEL_AFTER_HANDOFF = "cancel_after_handoff"  # an airing handed off holds a bulletin cancelled since
    DELETE = "delete"
    LOGIN = "login"
    LOGOUT = "logout"


def record(
    session: Session,
    *,
    actor: User | None,
    action: AuditAction | str,
    object_type: str,
    object_id: int | None,
    commune_id: int | None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one event to the session (the caller's commit makes it durable with the change)."""
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        commune_id=commune_id,
        action=str(action),
        object_type=object_type,
        object_id=object_id,
        details=details or {},
    )
    session.add(event)
    return event


def events_for(session: Session, object_type: str, object_id: int) -> Sequence[AuditEvent]:
    """Every event about one object, oldest first."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.object_type == object_type, AuditEvent.object_id == object_id)
        .order_by(AuditEvent.id)
    )
    return session.scalars(query).all()


def first_event(session: Session, object_type: str, object_id: int, action: AuditAction) -> AuditEvent | None:
    """The earliest event of ``action`` about one object, if any."""
    query = (
        select(AuditEvent)
        .where(
            AuditEvent.object_type == object_type,
            AuditEvent.object_id == object_id,
            AuditEvent.action == str(action),
        )
        .order_by(AuditEvent.id)
        .limit(1)
    )
    return session.scalars(query).first()
