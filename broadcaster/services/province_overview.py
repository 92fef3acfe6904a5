"""The province at a glance (a province admin): every commune's clusters, today's sessions, recent failures.

A handful of grouped queries whatever the number of communes, so the page stays quick for a
province of a few hundred communes and thousands of clusters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.clock import LOCAL_ZONE
from broadcaster.errors import BroadcasterError
from broadcaster.models import (
    Airing,
    AiringKind,
    AiringStatus,
    Cluster,
    Commune,
    Delivery,
    DeliveryState,
    User,
)
from broadcaster.services import scoping
from broadcaster.services.agent_reports import presence_of
from broadcaster.timetable import Timetable, effective_timetable, next_occurrences

FAILURE_WINDOW = timedelta(hours=24)
AIRED = (AiringStatus.HANDED_OFF, AiringStatus.AIRED)


@dataclass(frozen=True)
class CommuneSummary:
    """One commune's line of the overview."""

    id: int
    name: str
    code: str
    clusters: int
    online: int
    sessions_today: int  # the timetable's sessions of today, aired or not
    aired: int
    late: int
    missed: int
    coming: int  # still to come today
    failures_24h: int  # deliveries that failed or were missed in the last 24 hours

    @property
    def offline(self) -> int:
        """Clusters in service that have not been heard from lately."""
        return self.clusters - self.online

    @property
    def healthy(self) -> bool:
        """Nothing to look into: every cluster online, nothing missed or failed."""
        return self.offline == 0 and self.missed == 0 and self.failures_24h == 0


def summaries(session: Session, actor: User, now: datetime, timetables: Mapping[str, Timetable]) -> list[CommuneSummary]:
    """Every commune of the province with its clusters, today's sessions and failures (province admin)."""
    scoping.require_province_admin(actor)
    communes = session.scalars(select(Commune).order_by(Commune.name, Commune.id)).all()
    online: Counter[int] = Counter()
    total: Counter[int] = Counter()
    for cluster in session.scalars(select(Cluster).where(Cluster.retired_at.is_(None))):
        total[cluster.commune_id] += 1
        online[cluster.commune_id] += presence_of(cluster, now).online
    day_start = datetime.combine(now.astimezone(LOCAL_ZONE).date(), time(), tzinfo=LOCAL_ZONE)
    day_end = day_start + timedelta(days=1)
    statuses: dict[int, Counter[str]] = {}
    for commune_id, status, count in session.execute(
        select(Airing.commune_id, Airing.status, func.count())
        .where(Airing.kind == AiringKind.SESSION, Airing.starts_at >= day_start, Airing.starts_at < day_end)
        .group_by(Airing.commune_id, Airing.status)
    ):
        statuses.setdefault(commune_id, Counter())[str(status)] += count
    failures: dict[int, int] = {commune_id: count for commune_id, count in session.execute(
        select(Airing.commune_id, func.count())
        .join(Delivery, Delivery.airing_id == Airing.id)
        .where(Delivery.state.in_([DeliveryState.FAILED, DeliveryState.MISSED]),
               Delivery.updated_at >= now - FAILURE_WINDOW)
        .group_by(Airing.commune_id)
    )}
    result = []
    for commune in communes:
        counted = statuses.get(commune.id, Counter())
        try:
            timetable = effective_timetable(commune, timetables)
            today = len(next_occurrences(timetable, day_start, day_end))
            coming = len(next_occurrences(timetable, now, day_end))
        except BroadcasterError:
            today = coming = 0  # its timetable is broken: the commune's own page says why
        result.append(CommuneSummary(
            id=commune.id, name=commune.name, code=commune.code, clusters=total[commune.id],
            online=online[commune.id], sessions_today=today,
            aired=sum(counted[str(s)] for s in AIRED), late=counted[str(AiringStatus.AIRED_LATE)],
            missed=counted[str(AiringStatus.MISSED)], coming=coming, failures_24h=failures.get(commune.id, 0),
        ))
    return result
