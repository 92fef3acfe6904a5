"""Scoped access to a commune's timetable: who may read it, override it, and see what will air.

The timetable logic is in ``services.timetables``; this module applies the scoping rules in
front of it (anyone of the commune reads; its admin, or a province admin, overrides).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from broadcaster.models import Role, User
from broadcaster.services import scoping

if TYPE_CHECKING:
    from broadcaster.services.programming import ProgrammingService
    from broadcaster.services.timetables import UpcomingSession
    from broadcaster.timetable import Timetable


def read(session: Session, actor: User, commune_id: int, timetables: Mapping[str, Timetable]) -> Timetable:
    """The timetable a visible commune airs by."""
    from broadcaster.services import timetables as service

    scoping.visible_commune(session, actor, commune_id)
    return service.get_timetable(session, commune_id, timetables=timetables)


def override(session: Session, actor: User, commune_id: int, document: dict[str, Any] | None,
             timetables: Mapping[str, Timetable], reschedule: Callable[[int], object] | None) -> Timetable:
    """Set (or with None, remove) a commune's own timetable (its admin); validated, audit-logged, committed."""
    from broadcaster.services import timetables as service

    scoping.visible_commune(session, actor, commune_id)
    scoping.require_role(actor, Role.ADMIN)
    return service.set_override(session, commune_id, document, timetables=timetables, actor_id=actor.id,
                                reschedule=reschedule)


def upcoming(session: Session, actor: User, commune_id: int, days: int,
             programming: Callable[[], ProgrammingService]) -> list[UpcomingSession]:
    """What the commune's coming sessions will air at each cluster, and what overflows."""
    from broadcaster.services import timetables as service

    scoping.visible_commune(session, actor, commune_id)
    return service.upcoming(session, commune_id, days, programming=programming())
