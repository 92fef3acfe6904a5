"""Changing a commune's timetable from the editor: what the change would do, then doing it.

``preview`` compares the coming week under the current timetable and under the proposed one:
sessions cancelled, added, moved or resized (and whether their programme already went to the
speakers), and where each planned bulletin would first air, or that it would now be deferred or
not air at all in the week. ``apply`` stores the sessions and exceptions in one transaction
(audited), withdraws from the speakers the programmes of sessions that no longer exist, and has
the scheduler re-plan the commune at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from broadcaster.models import Airing, AiringKind, AiringStatus, Commune, Role, User
from broadcaster.services import scoping
from broadcaster.services.programming.plan import system_event
from broadcaster.services.registry import TimetableChanged, notify_timetable_changed
from broadcaster.timetable import (
    SessionOccurrence,
    Timetable,
    base_timetable,
    effective_timetable,
    next_occurrences,
    parse_timetable,
    with_exceptions,
)
from broadcaster.timetable_exceptions import parse_exceptions

if TYPE_CHECKING:
    from broadcaster.services.programming import ProgrammingService
    from broadcaster.services.timetables import UpcomingSession

PREVIEW_DAYS = 7
HANDED_OFF = (AiringStatus.HANDED_OFF, AiringStatus.AIRED_LATE)


@dataclass(frozen=True)
class SessionChange:
    """One session occurrence the change touches."""

    kind: str  # cancelled | added | moved | resized
    old: SessionOccurrence | None
    new: SessionOccurrence | None
    at_speakers: bool  # its programme was already handed off: it will be withdrawn


@dataclass(frozen=True)
class BulletinChange:
    """Where a bulletin planned in the coming week first airs, before and after the change."""

    bulletin_id: int
    title: str
    before: datetime | None
    after: datetime | None
    newly_deferred: bool  # somewhere it fitted before, it no longer fits


@dataclass(frozen=True)
class Proposal:
    """A validated proposed timetable: the weekly sessions (None: the commune's named one) and the exceptions."""

    sessions: dict[str, Any] | None
    exceptions: list[dict[str, Any]]
    timetable: Timetable


@dataclass(frozen=True)
class ChangePreview:
    """What saving the proposal would do in the coming week."""

    sessions: list[SessionChange]
    bulletins: list[BulletinChange]
    days: int


def propose(session: Session, actor: User, commune_id: int, sessions: dict[str, Any] | None,
            exceptions: Sequence[dict[str, Any]], timetables: Mapping[str, Timetable]) -> Proposal:
    """Validate a proposed timetable for a commune (its admin); nothing is stored."""
    commune = scoping.visible_commune(session, actor, commune_id)
    scoping.require_role(actor, Role.ADMIN)
    source = f"lịch riêng của {commune.name}"
    if sessions is not None:
        base = parse_timetable(sessions, name=commune.timetable, source=source, overridden=True)
        named = timetables.get(commune.timetable)
        if commune.timetable_override is None and named is not None and named.to_dict()["sessions"] == \
                base.to_dict()["sessions"]:
            sessions, base = None, named  # unchanged weekly sessions stay the shared timetable's
    else:
        base = base_timetable(commune, timetables)
    parsed = parse_exceptions(list(exceptions), f"xã {commune.name}")
    timetable = with_exceptions(base, parsed)
    stored = base.to_dict() if sessions is not None else None
    return Proposal(stored, [e.to_dict() for e in parsed], timetable)


def preview(session: Session, actor: User, commune_id: int, proposal: Proposal,
            programming: Callable[[], ProgrammingService], now: datetime, days: int = PREVIEW_DAYS) -> ChangePreview:
    """What the proposal does to the coming ``days`` days (nothing is stored)."""
    from broadcaster.services import timetables as service

    commune = scoping.visible_commune(session, actor, commune_id)
    programme = programming()
    current = effective_timetable(commune, programme.timetables)
    before = service.upcoming(session, commune_id, days, programming=programme, now=now, timetable=current)
    after = service.upcoming(session, commune_id, days, programming=programme, now=now, timetable=proposal.timetable)
    composed = _composed(session, commune_id, now)
    return ChangePreview(_session_changes(before, after, composed), _bulletin_changes(before, after), days)


def apply(session: Session, actor: User, commune_id: int, proposal: Proposal, *, now: datetime,
          withdraw: Callable[[int, int, Sequence[int], str], object],
          reschedule: TimetableChanged | None) -> list[int]:
    """Store the proposal (audited), withdraw programmes of sessions it removes; the airings withdrawn."""
    commune = scoping.visible_commune(session, actor, commune_id)
    scoping.require_role(actor, Role.ADMIN)
    previous = {"sessions": commune.timetable_override, "exceptions": commune.timetable_exceptions}
    commune.timetable_override = proposal.sessions
    commune.timetable_exceptions = proposal.exceptions or None
    system_event(session, "timetable_change", "commune", commune.id, commune.id,
                 {"previous": previous, "sessions": proposal.sessions, "exceptions": proposal.exceptions},
                 actor_id=actor.id)
    session.commit()
    gone = _orphaned(session, commune, proposal.timetable, now)
    for airing_id, cluster_ids in gone:
        withdraw(airing_id, commune.id, cluster_ids, "Buổi phát đã bị hủy khi sửa lịch phát.")
    notify_timetable_changed(reschedule, commune_id)
    return [airing_id for airing_id, _ in gone]


def _composed(session: Session, commune_id: int, now: datetime) -> set[tuple[str, datetime]]:
    rows = session.execute(select(Airing.session_name, Airing.starts_at).where(
        Airing.commune_id == commune_id, Airing.kind == AiringKind.SESSION, Airing.starts_at >= now,
        Airing.status.in_(HANDED_OFF)))
    return {(name, starts_at) for name, starts_at in rows}


def _orphaned(session: Session, commune: Commune, timetable: Timetable, now: datetime) -> list[tuple[int, list[int]]]:
    """Handed-off future airings the new timetable no longer has, with their clusters."""
    airings = session.scalars(select(Airing).where(
        Airing.commune_id == commune.id, Airing.kind == AiringKind.SESSION, Airing.starts_at > now,
        Airing.status.in_(HANDED_OFF)).options(selectinload(Airing.deliveries))).all()
    if not airings:
        return []
    last = max(a.starts_at for a in airings)
    wanted = {(o.name, o.starts_at) for o in next_occurrences(timetable, now, last + timedelta(seconds=1))}
    return [(a.id, [d.cluster_id for d in a.deliveries]) for a in airings
            if (a.session_name, a.starts_at) not in wanted]


def _key(occurrence: Any) -> tuple[str, datetime]:
    return occurrence.name, occurrence.starts_at


def _session_changes(before: list[UpcomingSession], after: list[UpcomingSession],
                     composed: set[tuple[str, datetime]]) -> list[SessionChange]:
    old = {_key(s): s for s in before}
    new = {_key(s): s for s in after}
    changes: list[SessionChange] = []
    moved_to: set[tuple[str, datetime]] = set()
    for key, session in old.items():
        if key in new:
            if new[key].max_duration_s != session.max_duration_s:
                changes.append(SessionChange("resized", _occ(session), _occ(new[key]), key in composed))
            continue
        same_day = [s for k, s in new.items() if k[0] == key[0] and k not in old
                    and s.starts_at.date() == session.starts_at.date()]
        if same_day:
            moved_to.add(_key(same_day[0]))
            changes.append(SessionChange("moved", _occ(session), _occ(same_day[0]), key in composed))
        else:
            changes.append(SessionChange("cancelled", _occ(session), None, key in composed))
    changes += [SessionChange("added", None, _occ(s), False) for k, s in new.items() if k not in old and k not in moved_to]
    return sorted(changes, key=lambda c: (c.old or c.new).starts_at)  # type: ignore[union-attr]


def _occ(session: UpcomingSession) -> SessionOccurrence:
    return SessionOccurrence(session.name, session.label, session.starts_at, session.max_duration_s)


def _first_airings(sessions: list[UpcomingSession]) -> tuple[dict[int, datetime], dict[int, str], set[tuple[int, str, datetime]]]:
    first: dict[int, datetime] = {}
    titles: dict[int, str] = {}
    included: set[tuple[int, str, datetime]] = set()
    for coming in sessions:
        for cluster in coming.clusters:
            for item in cluster.included:
                first.setdefault(item.bulletin_id, coming.starts_at)
                titles[item.bulletin_id] = item.title
                included.add((item.bulletin_id, coming.name, coming.starts_at))
            for item in cluster.deferred:
                titles[item.bulletin_id] = item.title
    return first, titles, included


def _bulletin_changes(before: list[UpcomingSession], after: list[UpcomingSession]) -> list[BulletinChange]:
    old_first, titles, old_included = _first_airings(before)
    new_first, new_titles, _ = _first_airings(after)
    titles.update(new_titles)
    deferred_now = {(item.bulletin_id, s.name, s.starts_at) for s in after for c in s.clusters for item in c.deferred}
    changes = []
    for bulletin_id in sorted(set(old_first) | set(new_first)):
        newly_deferred = any((bulletin_id, name, at) in deferred_now for b, name, at in old_included if b == bulletin_id)
        if old_first.get(bulletin_id) != new_first.get(bulletin_id) or newly_deferred:
            changes.append(BulletinChange(bulletin_id, titles.get(bulletin_id, ""), old_first.get(bulletin_id),
                                          new_first.get(bulletin_id), newly_deferred))
    return changes
