"""Read-only views of a commune for the officers' pages: its clusters' state and the next session's room.

Both go through the scoping rules first (``registry.list_clusters``, ``timetable_access.upcoming``),
so a page sees exactly what the API would show the same user.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.models import (
    Airing,
    AiringItem,
    AiringItemStatus,
    AiringKind,
    AiringStatus,
    Bulletin,
    Cluster,
    Delivery,
    DeliveryOrder,
    User,
)
from broadcaster.services import registry, timetable_access
from broadcaster.services.agent_reports import presence_of

if TYPE_CHECKING:
    from broadcaster.services.programming import ProgrammingService


@dataclass(frozen=True)
class NowPlaying:
    """What a cluster sounds right now, in words."""

    emergency: bool
    session_name: str
    titles: tuple[str, ...]
    started_at: datetime | None


@dataclass(frozen=True)
class ClusterState:
    """One speaker cluster as the "Cụm loa" page shows it."""

    id: int
    name: str
    zone_name: str | None
    online: bool
    last_heartbeat_at: datetime | None
    status: str | None  # "idle" or "playing", as the agent said
    volume: int | None
    queue_length: int | None
    agent_version: str | None
    playing: NowPlaying | None
    clock_offset_ms: float | None = None  # the box's clock minus the server's; the agent corrects it when it plays
    transport: str = "pull"
    link: str | None = None  # connected / disconnected, as the transport sees it


@dataclass(frozen=True)
class SessionRoom:
    """The next session that can still take a new bulletin, and how much time is left in it."""

    label: str
    starts_at: datetime
    max_duration_s: float
    used_s: float  # what is planned already at the fullest cluster, with chimes and pauses
    room_s: float


def cluster_states(session: Session, actor: User, commune_id: int, now: datetime) -> list[ClusterState]:
    """The clusters of a commune the actor may see, each with its presence and what it plays."""
    states = []
    for cluster in registry.list_clusters(session, actor, commune_id):
        presence = presence_of(cluster, now)
        playing = _now_playing(session, cluster.id, presence.now_playing) if presence.online else None
        states.append(
            ClusterState(
                id=cluster.id,
                name=cluster.name,
                zone_name=cluster.zone.name if cluster.zone else None,
                online=presence.online,
                last_heartbeat_at=presence.last_heartbeat_at,
                status=presence.status,
                volume=presence.volume,
                queue_length=presence.queue_length,
                agent_version=presence.agent_version,
                playing=playing,
                clock_offset_ms=presence.clock_offset_ms,
                transport=cluster.transport,
                link=presence.link,
            )
        )
    return states


def _now_playing(session: Session, cluster_id: int, reported: dict[str, object] | None) -> NowPlaying | None:
    if not reported:
        return None
    order = session.get(DeliveryOrder, str(reported.get("order_id", "")))
    started = reported.get("started_at")
    started_at = datetime.fromisoformat(started) if isinstance(started, str) else None
    if order is None or order.cluster_id != cluster_id:
        return NowPlaying(
            emergency=reported.get("priority") == "emergency",
            session_name="",
            titles=(),
            started_at=started_at,
        )
    airing = session.get(Airing, order.airing_id)
    titles = session.scalars(
        select(Bulletin.title)
        .join(AiringItem, AiringItem.bulletin_id == Bulletin.id)
        .where(
            AiringItem.airing_id == order.airing_id,
            AiringItem.cluster_id == cluster_id,
            AiringItem.status == AiringItemStatus.INCLUDED,
        )
        .order_by(AiringItem.position)
    ).all()
    return NowPlaying(
        emergency=airing is not None and airing.kind == AiringKind.EMERGENCY,
        session_name=airing.session_name if airing else "",
        titles=tuple(titles),
        started_at=started_at,
    )


def next_session_room(
    session: Session,
    actor: User,
    commune_id: int,
    programming: Callable[[], ProgrammingService],
    days: int = 7,
) -> SessionRoom | None:
    """The first coming session not composed yet and the time left in it (None if none in ``days``)."""
    programme = programming()
    upcoming = timetable_access.upcoming(session, actor, commune_id, days, lambda: programme)
    for coming in upcoming:
        if coming.composed or coming.status != str(AiringStatus.PLANNED):
            continue  # already handed to the speakers: a new bulletin waits for the next one
        used = max((cluster.estimated_s for cluster in coming.clusters), default=0.0)
        if used <= 0:
            used = programme.renderer.overhead_s  # the chimes a first bulletin brings along
        return SessionRoom(
            label=coming.label,
            starts_at=coming.starts_at,
            max_duration_s=coming.max_duration_s,
            used_s=used,
            room_s=max(0.0, coming.max_duration_s - used),
        )
    return None


def people(session: Session, user_ids: Sequence[int | None]) -> dict[int, str]:
    """Display names of accounts named in records the caller may already see (e.g. a bulletin's history)."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.full_name, User.username).where(User.id.in_(wanted)))
    return {row.id: row.full_name or row.username for row in rows}


def reached_clusters(
    session: Session, actor: User, commune_id: int, zone_ids: Sequence[int], cluster_ids: Sequence[int]
) -> list[Cluster]:
    """The clusters a bulletin with these targets reaches (no targets: the whole commune)."""
    clusters = registry.list_clusters(session, actor, commune_id)
    if not zone_ids and not cluster_ids:
        return list(clusters)
    return [c for c in clusters if c.id in cluster_ids or (c.zone_id is not None and c.zone_id in zone_ids)]


@dataclass(frozen=True)
class LastAiring:
    """The last programme a cluster played, as its agent reported it."""

    played_at: datetime
    session_name: str
    emergency: bool
    duration_s: float
    test: bool = False  # a "Phát thử" test tone


def last_airing(session: Session, actor: User, cluster_id: int) -> LastAiring | None:
    """What the cluster (visible to the actor) last played, and when."""
    cluster = registry.get_cluster(session, actor, cluster_id)
    row = session.execute(
        select(Delivery.played_at, Airing.session_name, Airing.kind, Delivery.duration_s)
        .join(Airing, Airing.id == Delivery.airing_id)
        .where(Delivery.cluster_id == cluster.id, Delivery.played_at.is_not(None))
        .order_by(Delivery.played_at.desc())
        .limit(1)
    ).first()
    if row is None or row.played_at is None:
        return None
    return LastAiring(row.played_at, row.session_name, row.kind == AiringKind.EMERGENCY, row.duration_s,
                      row.kind == AiringKind.TEST)
