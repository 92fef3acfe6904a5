"""Audio that agents need but the cache lost (deleted, or damaged and dropped): made again, or replaced.

A programme's audio is named by its own sha256 in every signed order, so what ``/audio`` serves
must be exactly those bytes. ``AudioRecovery.recover(sha256)`` finds the airing and cluster whose
``Delivery`` names the hash, and renders that cluster's programme again from its masters (the
lossless renders of each bulletin, themselves made again from the text or the recording if they
are gone too: ``resume.cluster_pieces``).

- The same bytes (the masters survived: rendering them is bit-exact): served under the old name.
- Other bytes (a master had to be spoken again, and espeak-ng does not repeat itself bit for
  bit: its waveform generator carries its phase from one utterance to the next): they can never
  be served under the old name. The deliveries that named it and have not downloaded it get a
  replacement order for the new audio, at the same play time (delivery sends a stop for the old
  order first; nothing of it has played, since the agent could not fetch it). An audit event
  ``audio_reissued`` says so.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from broadcaster.clock import Clock
from broadcaster.db import Database
from broadcaster.models import Airing, Delivery, DeliveryState
from broadcaster.services.handoff import ClusterProgramme, ProgrammeHandoff
from broadcaster.services.programming.plan import system_event
from broadcaster.services.programming.resume import cluster_pieces

if TYPE_CHECKING:
    from broadcaster.speech import RenderedAudio, SpeechService

log = logging.getLogger(__name__)
# Deliveries whose agent has not got the audio yet: a replacement order cannot cut anything short.
NOT_DOWNLOADED = (DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.RECEIVED)


class AudioRecovery:
    """Makes lost programme audio again from its masters; re-issues the orders if it cannot be bit-exact."""

    def __init__(self, db: Database, speech: SpeechService, handoff: ProgrammeHandoff, clock: Clock, *,
                 uploads_dir: Path, delay_s: float) -> None:
        self.db = db
        self.speech = speech
        self.handoff = handoff
        self.clock = clock
        self.uploads_dir = uploads_dir
        self.delay_s = delay_s

    def recover(self, sha256: str) -> Path | None:
        """The file with this content hash, rendered again from its masters; None if it cannot be (re-issued)."""
        with self.db.session() as s:
            row = s.scalar(select(Delivery).where(Delivery.audio_sha256 == sha256).order_by(Delivery.id.desc())
                           .limit(1))  # fmt: skip
            if row is None:
                return None
            airing_id, cluster_id = row.airing_id, row.cluster_id
            pieces, _priority = cluster_pieces(s, airing_id, cluster_id, self.uploads_dir)
        if not pieces:
            return None
        audio = self.speech.render_programme(pieces, chime=True)
        if audio.sha256 == sha256:
            log.warning("audio %s was lost from the cache; rendered again from its masters", sha256[:12])
            return audio.path
        self.reissue(sha256, audio)
        return None

    def reissue(self, sha256: str, audio: RenderedAudio) -> list[int]:
        """Replace, at the clusters that have not downloaded it, the orders naming ``sha256`` by ``audio``."""
        now = self.clock.now()
        soonest = now + timedelta(seconds=self.delay_s)
        with self.db.session() as s:
            rows = s.execute(select(Delivery, Airing.commune_id).join(Airing, Airing.id == Delivery.airing_id).where(
                Delivery.audio_sha256 == sha256, Delivery.state.in_(NOT_DOWNLOADED),
                Delivery.expires_at > now)).all()  # fmt: skip
            targets = []
            for delivery, commune_id in rows:
                _pieces, priority = cluster_pieces(s, delivery.airing_id, delivery.cluster_id, self.uploads_dir)
                play_at = max(delivery.play_at, soonest)
                targets.append((commune_id, ClusterProgramme(delivery.airing_id, delivery.cluster_id, audio, play_at,
                                                             max(delivery.expires_at, play_at), priority)))
        if not targets:
            return []
        failed = self.handoff.hand_off_many([programme for _commune, programme in targets])
        with self.db.session() as s:
            for commune_id, programme in targets:
                system_event(s, "audio_reissued", "airing", programme.airing_id, commune_id,
                             {"cluster_id": programme.cluster_id, "lost_sha256": sha256,
                              "new_sha256": audio.sha256, "failed": failed.get(programme.cluster_id)})
        log.warning("audio %s lost and not reproducible: %d order(s) re-issued with %s", sha256[:12], len(targets),
                    audio.sha256[:12])
        return [programme.cluster_id for _commune, programme in targets]
