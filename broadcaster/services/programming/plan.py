"""Which bulletins each cluster airs in a session, in what order, and what does not fit.

The rules (docs/scheduling.md explains why):

- A session airs, at each cluster of the commune, the bulletins that are approved (or already
  aired once), whose date window covers the session's local date, and that target the cluster
  (the whole commune, the cluster's zone, or the cluster itself).
- An emergency airs once, at once (``emergency.py``). Once it aired, it is read in the sessions
  only if its sender asked for that at submission (``replay_in_sessions``, "phát lại trong các
  buổi hôm nay"), and then only in the sessions of the day it aired.
- Order: emergency, then priority, then normal. Within a class, bulletins carried over (deferred
  at this cluster in the last session that listed them) come first, then oldest approval first.
- Each bulletin is read ``repeat`` times; the intro and outro chimes frame the programme.
- The programme is capped at the session length, first fit in that order: a bulletin that does
  not fit is deferred and a later, shorter one may still fit. A deferred bulletin moves to the
  next session: it stays eligible and leads its class there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from broadcaster.clock import local
from broadcaster.models import (
    Airing,
    AiringItem,
    AiringItemStatus,
    AuditEvent,
    Bulletin,
    BulletinStatus,
    Cluster,
    Priority,
)
from broadcaster.services.voices import reading_of

if TYPE_CHECKING:
    from broadcaster.speech import ProgrammePiece

PRIORITY_RANK = {Priority.EMERGENCY: 0, Priority.PRIORITY: 1, Priority.NORMAL: 2}
# "aired" bulletins stay on the programme until their window ends: a bulletin airs every session.
AIRABLE = (BulletinStatus.APPROVED, BulletinStatus.AIRED)


@dataclass(frozen=True)
class Candidate:
    """An airable bulletin, detached from the database so rendering holds no transaction open."""

    bulletin_id: int
    title: str
    priority: Priority
    repeat: int
    text: str | None
    upload: Path | None
    target_all: bool
    zone_ids: frozenset[int]
    cluster_ids: frozenset[int]
    approved_at: datetime
    spoken_duration_s: float | None = None
    carried_to: frozenset[int] = frozenset()  # clusters where it was deferred last time: it goes first
    voice: str | None = None  # "engine:voice" (the bulletin's or its commune's); None: the server's
    rate: float | None = None  # the commune's speaking rate; None: the server's
    commune_id: int | None = None  # whose lexicon reads the text


    def targets(self, cluster_id: int, zone_id: int | None) -> bool:
        """True if the bulletin is for this cluster (whole commune, its zone, or the cluster itself)."""
        return self.target_all or cluster_id in self.cluster_ids or (zone_id is not None and zone_id in self.zone_ids)

    def piece(self) -> ProgrammePiece:
        """The bulletin as a programme piece (text to speak, or the uploaded recording), with repeats."""
        from broadcaster.speech import ProgrammePiece

        return ProgrammePiece(
            text=self.text, upload=self.upload, repeat=self.repeat, voice=self.voice, rate=self.rate,
            commune_id=self.commune_id,
        )


@dataclass(frozen=True)
class PlannedItem:
    """A bulletin's place in one cluster's programme and how long it takes with its repeats."""

    bulletin_id: int
    title: str
    priority: Priority
    duration_s: float


@dataclass(frozen=True)
class ClusterPlan:
    """What one cluster airs in one session, and what does not fit."""

    cluster_id: int
    cluster_name: str
    included: tuple[PlannedItem, ...]
    deferred: tuple[PlannedItem, ...]

    @property
    def speech_s(self) -> float:
        """Length of the included bulletins, repeats counted, chimes not."""
        return sum(item.duration_s for item in self.included)

    @property
    def key(self) -> tuple[int, ...]:
        """The programme's identity: clusters with equal keys share one render."""
        return tuple(item.bulletin_id for item in self.included)

    @property
    def priority(self) -> Priority:
        """The highest priority in the programme (what delivery pre-empts by)."""
        ranked = sorted((item.priority for item in self.included), key=PRIORITY_RANK.__getitem__)
        return ranked[0] if ranked else Priority.NORMAL


def airing_order(candidate: Candidate, cluster_id: int | None = None) -> tuple[int, bool, datetime, int]:
    """Sort key at a cluster: priority class; carried over first; oldest approval; id (a stable order)."""
    carried = cluster_id is not None and cluster_id in candidate.carried_to
    return (PRIORITY_RANK[candidate.priority], not carried, candidate.approved_at, candidate.bulletin_id)


def candidate_from(bulletin: Bulletin, uploads_dir: Path, carried_to: frozenset[int] = frozenset()) -> Candidate:
    """Detach one bulletin (its zones and clusters must be loaded)."""
    reading = reading_of(bulletin)
    return Candidate(
        bulletin_id=bulletin.id,
        title=bulletin.title,
        priority=bulletin.priority,
        repeat=max(1, bulletin.repeat),
        text=bulletin.text,
        upload=uploads_dir / bulletin.upload_sha256 if bulletin.upload_sha256 else None,
        target_all=bulletin.target_all,
        zone_ids=frozenset(z.id for z in bulletin.zones),
        cluster_ids=frozenset(c.id for c in bulletin.clusters),
        approved_at=bulletin.decided_at or bulletin.created_at,
        spoken_duration_s=bulletin.spoken_duration_s,
        carried_to=carried_to,
        voice=reading.voice,
        rate=reading.rate,
        commune_id=bulletin.commune_id,
    )


def load_candidates(session: Session, commune_id: int, day: date, uploads_dir: Path,
                    before: datetime | None = None) -> list[Candidate]:  # fmt: skip
    """The commune's bulletins airable on ``day`` (a local date), with where they were carried over to.

    ``before``: only sessions that start earlier count for "deferred last time" (default: all).
    """
    query = (
        select(Bulletin)
        .where(
            Bulletin.commune_id == commune_id,
            Bulletin.status.in_(AIRABLE),
            Bulletin.start_date <= day,
            Bulletin.end_date >= day,
        )
        .options(selectinload(Bulletin.zones), selectinload(Bulletin.clusters))
    )
    bulletins = [b for b in session.scalars(query) if airs_in_sessions_on(b, day)]
    carried = _carried_over(session, [b.id for b in bulletins], before)
    candidates = [candidate_from(b, uploads_dir, carried.get(b.id, frozenset())) for b in bulletins]
    return sorted(candidates, key=airing_order)


def airs_in_sessions_on(bulletin: Bulletin, day: date) -> bool:
    """Whether an airable bulletin belongs in the sessions of ``day`` (an aired emergency only if asked for)."""
    if bulletin.priority != Priority.EMERGENCY or bulletin.status != BulletinStatus.AIRED:
        return True
    aired_on = local(bulletin.decided_at or bulletin.created_at).date()
    return bulletin.replay_in_sessions and aired_on == day


def _carried_over(session: Session, bulletin_ids: list[int], before: datetime | None) -> dict[int, frozenset[int]]:
    """For each bulletin, the clusters where its latest airing item is a deferral."""
    if not bulletin_ids:
        return {}
    query = (
        select(AiringItem.bulletin_id, AiringItem.cluster_id, AiringItem.status)
        .join(Airing, Airing.id == AiringItem.airing_id)
        .where(AiringItem.bulletin_id.in_(bulletin_ids), AiringItem.cluster_id.is_not(None))
        .order_by(Airing.starts_at, AiringItem.id)
    )
    if before is not None:
        query = query.where(Airing.starts_at < before)
    latest: dict[tuple[int, int | None], AiringItemStatus] = {}
    for bulletin_id, cluster_id, status in session.execute(query):
        latest[(bulletin_id, cluster_id)] = status  # rows come oldest first: the last one wins
    carried: dict[int, set[int]] = {}
    for (bulletin_id, cluster_id), status in latest.items():
        if status == AiringItemStatus.DEFERRED and cluster_id is not None:
            carried.setdefault(bulletin_id, set()).add(cluster_id)
    return {bulletin_id: frozenset(clusters) for bulletin_id, clusters in carried.items()}


def load_clusters(session: Session, commune_id: int) -> list[Cluster]:
    """The commune's clusters in service (not retired), by id."""
    return list(session.scalars(select(Cluster).where(Cluster.commune_id == commune_id, Cluster.retired_at.is_(None))
                                .order_by(Cluster.id)))


def fit_items(items: Sequence[PlannedItem], budget_s: float) -> tuple[list[PlannedItem], list[PlannedItem]]:
    """First fit in airing order: an item goes in if it still fits the budget, else it is deferred."""
    included: list[PlannedItem] = []
    deferred: list[PlannedItem] = []
    used = 0.0
    for item in items:
        if used + item.duration_s <= budget_s:
            included.append(item)
            used += item.duration_s
        else:
            deferred.append(item)
    return included, deferred


def plan_cluster(cluster: Cluster, candidates: Sequence[Candidate], durations: dict[int, float],
                 budget_s: float) -> ClusterPlan:  # fmt: skip
    """One cluster's programme: its targeted candidates that have a duration, in order, fitted to the budget."""
    targeted = [c for c in candidates if c.bulletin_id in durations and c.targets(cluster.id, cluster.zone_id)]
    targeted.sort(key=lambda candidate: airing_order(candidate, cluster.id))
    items = [PlannedItem(c.bulletin_id, c.title, c.priority, durations[c.bulletin_id]) for c in targeted]
    included, deferred = fit_items(items, budget_s)
    return ClusterPlan(cluster.id, cluster.name, tuple(included), tuple(deferred))


def plan_clusters(clusters: Sequence[Cluster], candidates: Sequence[Candidate], durations: dict[int, float],
                  budget_s: float) -> list[ClusterPlan]:  # fmt: skip
    """Every cluster's programme (see ``plan_cluster``)."""
    return [plan_cluster(cluster, candidates, durations, budget_s) for cluster in clusters]


def system_event(
    session: Session,
    action: str,
    object_type: str,
    object_id: int,
    commune_id: int,
    details: dict[str, Any],
    *,
    actor_id: int | None = None,
) -> None:
    """Add an audit event (by the system unless ``actor_id`` is given), in the caller's transaction."""
    session.add(AuditEvent(actor_id=actor_id, commune_id=commune_id, action=action, object_type=object_type,
                           object_id=object_id, details=details))  # fmt: skip
