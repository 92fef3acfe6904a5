"""Phát thử: a short test tone at one cluster, through the same signed orders as any airing.

An installer (or the commune admin) checks a cluster's horns and volume with it from the
cluster's page. It is an airing of its own kind (``test``) at that one cluster: a play order
signed like every other, audio fetched and checked by hash, priority normal (it never interrupts
what plays, least of all an emergency), and logged like any airing (its delivery, the agent's
report, an audit event).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import update

from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.audio.render import RENDER_VERSION, RenderOptions, render
from broadcaster.cache import canonical_json
from broadcaster.db import Database
from broadcaster.models import Airing, AiringKind, AiringStatus, Delivery, DeliveryState, Priority
from broadcaster.services.handoff import ClusterProgramme, ProgrammeHandoff
from broadcaster.services.programming.plan import system_event

if TYPE_CHECKING:
    from broadcaster.speech import RenderedAudio, SpeechService

# Airing.session_name of test tones: not ASCII, so no timetable session can have it.
TEST_TONE_SESSION = "phát-thử"
TONE_HZ = 1000.0  # the usual test frequency, where horn loudspeakers are loud and clear
BEEP_S = 0.8
BEEPS = 2
RAMP_S = 0.02  # no click at either end of a beep


@dataclass(frozen=True)
class TestToneAiring:
    """The test tone handed to one cluster: the airing, when it plays, and whether delivery took it."""

    airing_id: int
    cluster_id: int
    play_at: datetime
    duration_s: float
    refused: str | None = None  # why delivery could not take it


def _beep() -> Pcm:
    t = np.arange(int(BEEP_S * SAMPLE_RATE), dtype=np.float32) / SAMPLE_RATE
    wave = 0.5 * np.sin(2 * np.pi * TONE_HZ * t)
    ramp = np.minimum(1.0, np.minimum(t, BEEP_S - t) / RAMP_S)
    return Pcm((wave * ramp).astype(np.float32), SAMPLE_RATE)


def render_test_tone(speech: SpeechService) -> RenderedAudio:
    """Beeps between the intro and outro chimes, levelled like speech; rendered once, then cached."""
    from broadcaster.speech import RenderedAudio

    options = RenderOptions(sentence_pause_s=0.4, chime=True)
    key = hashlib.sha256(canonical_json({
        "kind": "test-tone", "hz": TONE_HZ, "beep_s": BEEP_S, "beeps": BEEPS,
        "render": options.cache_fields(), "render_version": RENDER_VERSION,
    })).hexdigest()  # fmt: skip
    entry = speech.cache.get_or_create(
        key, lambda: render([_beep() for _ in range(BEEPS)], options).with_info(engine="test-tone", voice="tone"))
    return RenderedAudio.from_entry(entry, engine="test-tone", voice="tone")


def air_test_tone(db: Database, speech: SpeechService, handoff: ProgrammeHandoff, cluster_id: int, commune_id: int,
                  now: datetime, *, delay_s: float, expiry_s: float, actor_id: int | None = None) -> TestToneAiring:
    """Hand the test tone to one cluster, to play ``delay_s`` from now at normal priority; logged."""
    audio = render_test_tone(speech)
    play_at = now + timedelta(seconds=delay_s)
    expires_at = play_at + timedelta(seconds=expiry_s)
    with db.session() as s:
        airing = Airing(commune_id=commune_id, kind=AiringKind.TEST, session_name=TEST_TONE_SESSION,
                        starts_at=play_at, max_duration_s=audio.duration_s, composed_at=now)  # fmt: skip
        s.add(airing)
        s.flush()
        s.add(Delivery(airing_id=airing.id, cluster_id=cluster_id, audio_sha256=audio.sha256, audio_size=audio.size,
                       duration_s=audio.duration_s, play_at=play_at, expires_at=expires_at))  # fmt: skip
        airing_id = airing.id
    refused = handoff.hand_off_many(
        [ClusterProgramme(airing_id, cluster_id, audio, play_at, expires_at, Priority.NORMAL)]).get(cluster_id)
    with db.session() as s:
        if refused is not None:
            s.execute(update(Delivery).where(Delivery.airing_id == airing_id)
                      .values(state=DeliveryState.FAILED, error=refused))  # fmt: skip
        s.execute(update(Airing).where(Airing.id == airing_id).values(status=AiringStatus.HANDED_OFF))
        system_event(s, "test_tone", "cluster", cluster_id, commune_id,
                     {"airing_id": airing_id, "play_at": play_at.isoformat(), "failed": refused},
                     actor_id=actor_id)  # fmt: skip
    return TestToneAiring(airing_id, cluster_id, play_at, audio.duration_s, refused)
