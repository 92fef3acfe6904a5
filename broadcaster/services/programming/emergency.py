"""Emergencies: the same path as a session, at once, pre-empting whatever plays.

``air_emergency`` renders the bulletin between chimes and hands it to every cluster it targets
with ``play_at`` a few seconds from now (time to reach the agents) and priority ``emergency``, so
the agents interrupt what they play. ``stop_emergency`` takes it off the air (a cancel), where it
is still *live*: waiting to play or playing. What already played stays played, in the airing and
in the broadcast log; an emergency with nothing live has nothing to stop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from broadcaster.clock import local
from broadcaster.db import Database
from broadcaster.errors import Conflict, NotFound
from broadcaster.models import (
    Airing,
    AiringItem,
    AiringItemStatus,
    AiringKind,
    AiringStatus,
    Bulletin,
    BulletinStatus,
    Delivery,
    DeliveryState,
    Priority,
)
from broadcaster.services.handoff import ClusterProgramme, ProgrammeHandoff
from broadcaster.services.programming.plan import AIRABLE, candidate_from, load_clusters, system_event

if TYPE_CHECKING:
    from broadcaster.speech import SpeechService

log = logging.getLogger(__name__)

EMERGENCY_SESSION = "emergency"  # Airing.session_name of emergencies (no timetable session may use it)
# Not played yet at a cluster: waiting, on its way, or (with played_at set) playing now.
LIVE_STATES = (DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.RECEIVED, DeliveryState.DOWNLOADED)
# A "played" report may lag the end of the audio by this much.
PLAYING_GRACE_S = 15.0


class EmergencyBulletinNotFound(NotFound):
    """No bulletin with that id."""

    code = "bulletin_not_found"


class BulletinNotAirable(Conflict):
    """Only an approved bulletin can be put on the air."""

    code = "bulletin_not_airable"


class NoTargetClusters(Conflict):
    """The bulletin targets no cluster of its commune, so there is nowhere to air it."""

    code = "no_target_clusters"


@dataclass(frozen=True)
class EmergencyAiring:
    """What ``air_emergency`` handed off: the airing, the clusters, and when it plays."""

    airing_id: int
    cluster_ids: tuple[int, ...]
    play_at: datetime
    audio_sha256: str
    duration_s: float
    failed_cluster_ids: tuple[int, ...] = ()


def air_emergency(
    db: Database,
    speech: SpeechService,
    handoff: ProgrammeHandoff,
    bulletin_id: int,
    now: datetime,
    *,
    uploads_dir: Path,
    delay_s: float = 5.0,
    expiry_s: float = 1800.0,
    actor_id: int | None = None,
) -> EmergencyAiring:
    """Compose, render and hand off an approved bulletin at once to its clusters, priority emergency."""
    started = time.monotonic()
    with db.session() as s:
        bulletin = s.scalar(select(Bulletin).where(Bulletin.id == bulletin_id)
                            .options(selectinload(Bulletin.zones), selectinload(Bulletin.clusters)))  # fmt: skip
        if bulletin is None:
            raise EmergencyBulletinNotFound(f"Không có bản tin số {bulletin_id}.")
        if bulletin.status not in AIRABLE:
            raise BulletinNotAirable(f"Bản tin số {bulletin_id} chưa được duyệt nên không phát được.",
                                     detail=f"status {bulletin.status}")  # fmt: skip
        candidate = candidate_from(bulletin, uploads_dir)
        commune_id = bulletin.commune_id
        cluster_ids = tuple(c.id for c in load_clusters(s, commune_id) if candidate.targets(c.id, c.zone_id))
    if not cluster_ids:
        raise NoTargetClusters(f"Bản tin số {bulletin_id} không nhắm tới cụm loa nào của xã; không có nơi để phát.")
    audio = speech.render_programme([candidate.piece()], chime=True)
    # Rendering took a moment: the agents still get ``delay_s`` to fetch the audio after it.
    play_at = now + timedelta(seconds=delay_s + (time.monotonic() - started))
    expires_at = play_at + timedelta(seconds=expiry_s)
    with db.session() as s:
        airing = Airing(commune_id=commune_id, kind=AiringKind.EMERGENCY, session_name=EMERGENCY_SESSION,
                        starts_at=play_at, max_duration_s=audio.duration_s, composed_at=now)  # fmt: skip
        s.add(airing)
        s.flush()
        for cluster_id in cluster_ids:
            s.add(AiringItem(airing_id=airing.id, bulletin_id=bulletin_id, cluster_id=cluster_id, position=0,
                             status=AiringItemStatus.INCLUDED, duration_s=audio.duration_s))  # fmt: skip
            s.add(Delivery(airing_id=airing.id, cluster_id=cluster_id, audio_sha256=audio.sha256, audio_size=audio.size,
                           duration_s=audio.duration_s, play_at=play_at, expires_at=expires_at))  # fmt: skip
        airing_id = airing.id
    # One batch: a commune-wide emergency to hundreds of clusters must not wait on one commit per order.
    refused = handoff.hand_off_many(
        [ClusterProgramme(airing_id, cluster_id, audio, play_at, expires_at, Priority.EMERGENCY)
         for cluster_id in cluster_ids]
    )  # fmt: skip
    failed = sorted(refused)
    if refused:
        with db.session() as s:
            for cluster_id, error in refused.items():
                s.execute(update(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id == cluster_id)
                          .values(state=DeliveryState.FAILED, error=error))  # fmt: skip
    with db.session() as s:
        s.execute(update(Airing).where(Airing.id == airing_id).values(status=AiringStatus.HANDED_OFF))
        s.execute(update(Bulletin).where(Bulletin.id == bulletin_id, Bulletin.status == BulletinStatus.APPROVED)
                  .values(status=BulletinStatus.AIRED))  # fmt: skip
        system_event(s, "compose", "airing", airing_id, commune_id,
                     {"bulletin_id": bulletin_id, "play_at": play_at.isoformat(), "clusters": list(cluster_ids),
                      "failed_clusters": failed, "priority": str(Priority.EMERGENCY)}, actor_id=actor_id)  # fmt: skip
    return EmergencyAiring(airing_id, cluster_ids, play_at, audio.sha256, audio.duration_s, tuple(failed))


def is_live(delivery: Delivery, now: datetime) -> bool:
    """Whether the airing at this cluster may still sound: waiting to play, or playing right now."""
    if delivery.state not in LIVE_STATES or now >= delivery.expires_at:
        return False
    if delivery.played_at is None:
        return True
    return now < delivery.played_at + timedelta(seconds=delivery.duration_s + PLAYING_GRACE_S)


def _emergency_airings(s: Session, bulletin_ids: Iterable[int]) -> list[tuple[int, Airing]]:
    rows = s.execute(
        select(AiringItem.bulletin_id, Airing).join(Airing, Airing.id == AiringItem.airing_id)
        .where(Airing.kind == AiringKind.EMERGENCY, AiringItem.bulletin_id.in_(list(bulletin_ids)),
               Airing.status.in_((AiringStatus.PLANNED, AiringStatus.HANDED_OFF)))
        .options(selectinload(Airing.deliveries))
    ).unique().all()  # fmt: skip
    seen: dict[tuple[int, int], Airing] = {(bulletin_id, airing.id): airing for bulletin_id, airing in rows}
    return [(bulletin_id, airing) for (bulletin_id, _), airing in seen.items()]


def live_emergency_bulletins(s: Session, bulletin_ids: Iterable[int], now: datetime) -> set[int]:
    """The bulletins among ``bulletin_ids`` with an emergency airing still live at some cluster."""
    return {bulletin_id for bulletin_id, airing in _emergency_airings(s, bulletin_ids)
            if any(is_live(delivery, now) for delivery in airing.deliveries)}


def stop_emergency(
    db: Database, handoff: ProgrammeHandoff, bulletin_id: int, now: datetime, *, actor_id: int | None = None
) -> list[int]:
    """Stop the bulletin's emergency airings where they are still live; the airing ids stopped.

    Only the live clusters are stopped and marked cancelled. A cluster that played keeps "played";
    an airing that played somewhere keeps its status and gains a note, one that never sounded
    anywhere becomes cancelled.
    """
    with db.session() as s:
        targets = []
        for _, airing in _emergency_airings(s, [bulletin_id]):
            live = tuple(d.cluster_id for d in airing.deliveries if is_live(d, now))
            sounded = any(d.state == DeliveryState.PLAYED or d.played_at is not None for d in airing.deliveries)
            if live:
                targets.append((airing.id, airing.commune_id, live, sounded))
    for airing_id, commune_id, cluster_ids, sounded in targets:
        withdraw_airing(db, handoff, airing_id, commune_id, cluster_ids,
                        note=f"Dừng phát lúc {local(now):%H:%M:%S %d/%m/%Y}.", details={"bulletin_id": bulletin_id},
                        actor_id=actor_id, keep_status=sounded)
    return [airing_id for airing_id, *_ in targets]


def withdraw_airing(db: Database, handoff: ProgrammeHandoff, airing_id: int, commune_id: int,
                    cluster_ids: Sequence[int], *, note: str, details: dict[str, object],
                    actor_id: int | None = None, keep_status: bool = False) -> None:
    """Stop an airing at these clusters, where it waits or plays, and record it: their deliveries become
    cancelled (one that played stays played), the airing gains ``note`` and becomes cancelled, unless
    ``keep_status`` (it sounded somewhere: its history is not rewritten)."""
    # Stop on the speakers first: if that fails, the log must not claim it stopped.
    handoff.stop(airing_id, cluster_ids)
    with db.session() as s:
        previous = s.scalar(select(Airing.note).where(Airing.id == airing_id))
        values: dict[str, object] = {"note": f"{previous}; {note}" if previous else note}
        if not keep_status:
            values["status"] = AiringStatus.CANCELLED
        s.execute(update(Airing).where(Airing.id == airing_id).values(**values))
        s.execute(update(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id.in_(list(cluster_ids)),
                                         Delivery.state.in_(LIVE_STATES))
                  .values(state=DeliveryState.CANCELLED))  # fmt: skip
        system_event(s, "stop", "airing", airing_id, commune_id, {**details, "clusters": list(cluster_ids)},
                     actor_id=actor_id)
