"""Resuming an airing that a dead process left half done: from the outbox, never composed twice.

A composition writes, in this order: the airing's items and ``Delivery`` rows (which programme,
which audio, when, at each cluster), then one signed order per cluster (delivery's outbox,
committed in batches), then the airing's status. A process killed between the orders and the
status leaves some or all clusters handed off. Composing again would render a new programme with
a new play time: delivery would then withdraw what the agents hold (a stop) and issue the new
one, and every cluster that had started would play it twice. So a resumed airing:

- leaves the clusters that have an order alone (delivery resumes queued orders itself, and an
  agent answers "duplicate" to an order it holds);
- hands the others the programme their ``Delivery`` row names: the same audio (re-rendered from
  the masters if the cache lost it) and the same play time if it is still ahead, so every
  cluster of the airing starts together.

``cluster_pieces`` is also what ``/audio`` re-renders a lost programme from.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from broadcaster.db import Database
from broadcaster.delivery.orders import OrderKind
from broadcaster.models import (
    AiringItem,
    AiringItemStatus,
    Bulletin,
    Delivery,
    DeliveryOrder,
    DeliveryState,
    Priority,
)
from broadcaster.services.handoff import ClusterProgramme
from broadcaster.services.programming.plan import PRIORITY_RANK, candidate_from

if TYPE_CHECKING:
    from broadcaster.speech import ProgrammePiece, RenderedAudio, SpeechService

log = logging.getLogger(__name__)
# Reuse a planned play time only if the agents still have this long to fetch the audio.
MIN_LEAD_S = 2.0


def issued_cluster_ids(session: Session, airing_id: int) -> set[int]:
    """The clusters that already have a play order for this airing: their programme was handed off."""
    return set(session.scalars(select(DeliveryOrder.cluster_id).where(
        DeliveryOrder.airing_id == airing_id, DeliveryOrder.kind == OrderKind.PLAY.value)))  # fmt: skip


def cluster_pieces(session: Session, airing_id: int, cluster_id: int,
                   uploads_dir: Path) -> tuple[list[ProgrammePiece], Priority]:  # fmt: skip
    """One cluster's programme as composed (its included bulletins, in order) and its highest priority."""
    rows = session.execute(
        select(AiringItem, Bulletin).join(Bulletin, Bulletin.id == AiringItem.bulletin_id)
        .where(AiringItem.airing_id == airing_id, AiringItem.cluster_id == cluster_id,
               AiringItem.status == AiringItemStatus.INCLUDED)
        .order_by(AiringItem.position, AiringItem.id)
    ).all()  # fmt: skip
    pieces = [candidate_from(bulletin, uploads_dir).piece() for _item, bulletin in rows]
    priorities = sorted((bulletin.priority for _item, bulletin in rows), key=PRIORITY_RANK.__getitem__)
    return pieces, priorities[0] if priorities else Priority.NORMAL


def remaining_programmes(db: Database, speech: SpeechService, airing_id: int, now: datetime, *,
                         delay_s: float, uploads_dir: Path) -> list[ClusterProgramme]:  # fmt: skip
    """The programmes of the airing's clusters that have a Delivery row but no order yet, as recorded."""
    with db.session() as s:
        issued = issued_cluster_ids(s, airing_id)
        rows = [d for d in s.scalars(select(Delivery).where(Delivery.airing_id == airing_id)
                                     .order_by(Delivery.cluster_id)) if d.cluster_id not in issued]  # fmt: skip
        recipes = {d.cluster_id: cluster_pieces(s, airing_id, d.cluster_id, uploads_dir) for d in rows}
    soonest = now + timedelta(seconds=MIN_LEAD_S)
    programmes: list[ClusterProgramme] = []
    renders: dict[str, RenderedAudio] = {}
    for row in rows:
        pieces, priority = recipes[row.cluster_id]
        if not pieces:
            continue
        audio = renders.get(row.audio_sha256) or audio_or_render(speech, row.audio_sha256, pieces)
        renders[row.audio_sha256] = audio
        play_at = row.play_at if row.play_at >= soonest else now + timedelta(seconds=delay_s)
        expires_at = max(row.expires_at, play_at + (row.expires_at - row.play_at))
        programmes.append(ClusterProgramme(airing_id, row.cluster_id, audio, play_at, expires_at, priority))
    _record_changes(db, programmes)
    return programmes


def audio_or_render(speech: SpeechService, sha256: str, pieces: Sequence[ProgrammePiece]) -> RenderedAudio:
    """The stored audio with this hash, or the programme rendered again from its masters (text or recording)."""
    stored = speech.stored_audio(sha256)
    if stored is not None:
        return stored
    rendered = speech.render_programme(list(pieces), chime=True)
    if rendered.sha256 != sha256:
        # A master had to be spoken again, and the engine does not repeat itself bit for bit.
        log.warning("programme %s re-rendered as %s (a master was lost)", sha256[:12], rendered.sha256[:12])
    return rendered


def _record_changes(db: Database, programmes: Sequence[ClusterProgramme]) -> None:
    # The rows must name what will actually be sent (a new play time, or audio made again).
    with db.session() as s:
        for p in programmes:
            s.execute(update(Delivery).where(Delivery.airing_id == p.airing_id, Delivery.cluster_id == p.cluster_id,
                                             Delivery.state == DeliveryState.PENDING)
                      .values(play_at=p.play_at, expires_at=p.expires_at, audio_sha256=p.audio.sha256,
                              audio_size=p.audio.size, duration_s=p.audio.duration_s))  # fmt: skip
