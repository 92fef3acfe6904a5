"""Emergencies: the same path as a session, at once, pre-empting whatever plays.

``air_emergency`` renders the bulletin between chimes and hands it to every cluster it targets
with ``play_at`` a few seconds from now (time to reach the agents) and priority ``emergency``, so
the agents interrupt what they play. ``stop_emergency`` takes it off the air (a cancel).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

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


def stop_emergency(
    db: Database, handoff: ProgrammeHandoff, bulletin_id: int, now: datetime, *, actor_id: int | None = None
) -> list[int]:
    """Stop every emergency airing of a bulletin that is waiting or playing; the airing ids stopped."""
    with db.session() as s:
        airings = s.scalars(
            select(Airing)
            .where(Airing.kind == AiringKind.EMERGENCY,
                   Airing.status.in_((AiringStatus.PLANNED, AiringStatus.HANDED_OFF)),
                   Airing.id.in_(select(AiringItem.airing_id).where(AiringItem.bulletin_id == bulletin_id)))
            .options(selectinload(Airing.deliveries))
        ).all()  # fmt: skip
        targets = [(a.id, a.commune_id, tuple(d.cluster_id for d in a.deliveries)) for a in airings]
    for airing_id, commune_id, cluster_ids in targets:
        withdraw_airing(db, handoff, airing_id, commune_id, cluster_ids,
                        note=f"Dừng phát lúc {now.isoformat(timespec='seconds')}.",
                        details={"bulletin_id": bulletin_id}, actor_id=actor_id)
    return [airing_id for airing_id, _, _ in targets]


def withdraw_airing(db: Database, handoff: ProgrammeHandoff, airing_id: int, commune_id: int,
                    cluster_ids: Sequence[int], *, note: str, details: dict[str, object],
                    actor_id: int | None = None) -> None:
    """Stop an airing at its clusters (waiting or playing), then mark it and its deliveries cancelled."""
    # Stop on the speakers first: if that fails, the log must not claim it stopped.
    handoff.stop(airing_id, cluster_ids)
    with db.session() as s:
        s.execute(update(Airing).where(Airing.id == airing_id).values(status=AiringStatus.CANCELLED, note=note))
        s.execute(update(Delivery).where(
            Delivery.airing_id == airing_id,
            Delivery.state.not_in((DeliveryState.PLAYED, DeliveryState.FAILED))).values(state=DeliveryState.CANCELLED))  # fmt: skip
        system_event(s, "stop", "airing", airing_id, commune_id, {**details, "clusters": list(cluster_ids)},
                     actor_id=actor_id)
