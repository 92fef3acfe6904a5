"""A commune's timetable for the API and the "Lịch phát" page: read it, override it, see what will air.

The caller (the API) checks that the user may see the commune first; these functions take a
commune id. ``db`` is a ``Database`` or an open SQLAlchemy ``Session`` (changes are committed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from broadcaster.clock import local
from broadcaster.db import Database
from broadcaster.errors import BroadcasterError, InvalidInput
from broadcaster.models import Airing, AiringItemStatus, AiringKind, AiringStatus, Commune
from broadcaster.services.programming import PlannedItem, ProgrammingService, plan_clusters
from broadcaster.services.programming.plan import load_candidates, load_clusters, system_event
from broadcaster.services.registry import TimetableChanged, notify_timetable_changed
from broadcaster.services.scoping import CommuneNotFound
from broadcaster.timetable import Timetable, effective_timetable, next_occurrences, parse_timetable

MAX_UPCOMING_DAYS = 31


class UpcomingRangeInvalid(InvalidInput):
    """The number of days to look ahead is out of range."""

    code = "days_out_of_range"


@dataclass(frozen=True)
class UpcomingCluster:
    """One cluster in one coming session: what airs, what does not fit, and the estimated length."""

    cluster_id: int
    cluster_name: str
    included: tuple[PlannedItem, ...]
    deferred: tuple[PlannedItem, ...]
    estimated_s: float  # speech plus chimes and pauses


@dataclass(frozen=True)
class UpcomingSession:
    """A coming session occurrence: a projection, or what was composed if that is done already."""

    name: str
    label: str
    starts_at: datetime
    max_duration_s: float
    status: str  # "planned" for a projection, else the airing's status
    composed: bool
    clusters: tuple[UpcomingCluster, ...]


def get_timetable(db: Database | Session, commune_id: int, *, timetables: Mapping[str, Timetable]) -> Timetable:
    """The timetable a commune airs by (its override if it has one)."""
    with _session(db) as s:
        return effective_timetable(_commune(s, commune_id), timetables)


def set_override(
    db: Database | Session,
    commune_id: int,
    override: dict[str, Any] | None,
    *,
    timetables: Mapping[str, Timetable],
    actor_id: int | None = None,
    reschedule: TimetableChanged | None = None,
) -> Timetable:
    """Validate and store a commune's own timetable (None: back to its named one); audit-logged, committed."""
    with _session(db) as s:
        commune = _commune(s, commune_id)
        previous = commune.timetable_override
        if override is None:
            commune.timetable_override = None
        else:
            parsed = parse_timetable(override, name=commune.timetable, source=f"lịch riêng của {commune.name}",
                                     overridden=True)  # fmt: skip
            commune.timetable_override = parsed.to_dict()  # stored normalized: English day names, HH:MM
        system_event(s, "timetable_override" if override is not None else "timetable_reset", "commune", commune.id,
                     commune.id, {"previous": previous, "override": commune.timetable_override},
                     actor_id=actor_id)  # fmt: skip
        effective = effective_timetable(commune, timetables)
    notify_timetable_changed(reschedule, commune_id)
    return effective


def upcoming(
    db: Database | Session, commune_id: int, days: int, *, programming: ProgrammingService, now: datetime | None = None,
    timetable: Timetable | None = None,
) -> list[UpcomingSession]:
    """The commune's sessions in the next ``days`` days: per cluster what will air and what overflows.

    ``timetable`` projects a timetable not saved yet (the editor's preview) instead of the commune's.
    """
    if not 1 <= days <= MAX_UPCOMING_DAYS:
        raise UpcomingRangeInvalid(f"Số ngày xem trước phải từ 1 đến {MAX_UPCOMING_DAYS}.", detail=f"days={days}")
    now = now or programming.clock.now()
    renderer = programming.renderer
    with _session(db) as s:
        commune = _commune(s, commune_id)
        timetable = timetable or effective_timetable(commune, programming.timetables)
        occurrences = next_occurrences(timetable, now, now + timedelta(days=days))
        clusters = load_clusters(s, commune_id)
        composed = _composed_airings(s, commune_id, now)
        estimates: dict[int, float] = {}
        unknown: set[int] = set()
        sessions = []
        for occurrence in occurrences:
            airing = composed.get((occurrence.name, occurrence.starts_at))
            if airing is not None:
                sessions.append(_from_airing(occurrence.name, occurrence.label, airing, clusters))
                continue
            candidates = load_candidates(s, commune_id, local(occurrence.starts_at).date(), programming.uploads_dir,
                                         before=occurrence.starts_at)
            for candidate in candidates:
                if candidate.bulletin_id not in estimates and candidate.bulletin_id not in unknown:
                    try:
                        estimates[candidate.bulletin_id] = renderer.estimate_s(candidate)
                    except BroadcasterError:
                        unknown.add(candidate.bulletin_id)  # e.g. its recording is gone: it will not air
            overhead = renderer.overhead_s
            plans = plan_clusters(clusters, candidates, estimates, occurrence.max_duration_s - overhead)
            sessions.append(UpcomingSession(
                occurrence.name, occurrence.label, occurrence.starts_at, occurrence.max_duration_s,
                str(AiringStatus.PLANNED), False,
                tuple(UpcomingCluster(p.cluster_id, p.cluster_name, p.included, p.deferred,
                                      p.speech_s + overhead if p.included else 0.0) for p in plans),
            ))  # fmt: skip
    return sessions


def _composed_airings(s: Session, commune_id: int, now: datetime) -> dict[tuple[str, datetime], Airing]:
    rows = s.scalars(
        select(Airing)
        .where(Airing.commune_id == commune_id, Airing.kind == AiringKind.SESSION, Airing.starts_at >= now,
               Airing.status != AiringStatus.PLANNED)
        .options(selectinload(Airing.items), selectinload(Airing.deliveries))
    )  # fmt: skip
    return {(a.session_name, a.starts_at): a for a in rows}


def _from_airing(name: str, label: str, airing: Airing, clusters: list[Any]) -> UpcomingSession:
    lengths = {d.cluster_id: d.duration_s for d in airing.deliveries}
    result = []
    for cluster in clusters:
        items = [i for i in airing.items if i.cluster_id == cluster.id]
        result.append(UpcomingCluster(cluster.id, cluster.name, _items(items, AiringItemStatus.INCLUDED),
                                      _items(items, AiringItemStatus.DEFERRED), lengths.get(cluster.id, 0.0)))  # fmt: skip
    return UpcomingSession(name, label, local(airing.starts_at), airing.max_duration_s, str(airing.status), True,
                           tuple(result))  # fmt: skip


def _items(items: list[Any], status: AiringItemStatus) -> tuple[PlannedItem, ...]:
    return tuple(PlannedItem(i.bulletin_id, i.bulletin.title, i.bulletin.priority, i.duration_s or 0.0)
                 for i in items if i.status == status)  # fmt: skip


def _commune(s: Session, commune_id: int) -> Commune:
    commune = s.get(Commune, commune_id)
    if commune is None:
        raise CommuneNotFound(f"Không tìm thấy xã số {commune_id}.")
    return commune


@contextlib.contextmanager
def _session(db: Database | Session) -> Iterator[Session]:
    if isinstance(db, Database):
        with db.session() as s:
            yield s
        return
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
