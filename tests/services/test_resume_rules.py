"""Resumption's own rules (services.programming.resume) on a real database with real speech: what a
half-done airing hands the clusters still without an order, and when its planned start still holds.

The airing is composed by the real programming service with a recording hand-off, which writes no
delivery order: to ``remaining_programmes`` every cluster is one whose order never committed.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import AiringItem, Delivery, DeliveryState, Priority
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.services.programming.resume import cluster_pieces, remaining_programmes
from broadcaster.speech import ProgrammePiece, SpeechService
from tests.scheduler.support import add_bulletin, add_commune, make_settings, speech_settings, write_timetable
from tests.services.support import programming_service

SESSION = datetime.combine(datetime.now(LOCAL_ZONE).date(), time(17, 0), LOCAL_ZONE)
RESUME_LOG = "broadcaster.services.programming.resume"
MEETING = "Tối nay họp dân tại nhà văn hóa."
MARKET = "Chợ phiên mở cửa sáng chủ nhật."
DELAY_S = 5.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, misfire_grace_s=600.0, prompt_delay_s=DELAY_S)
    write_timetable(settings.schedules_dir, [("evening", SESSION, 2.0)])
    return settings


def composed(settings: Settings, db: Database, speech: SpeechService) -> tuple[dict[str, int], int]:
    """A commune of two clusters, its evening airing composed: the market cluster also has a priority notice."""
    ids = add_commune(db, clusters=(("Cụm đình", None), ("Cụm chợ", None)))
    add_bulletin(db, ids, MEETING)
    add_bulletin(db, ids, MARKET, priority=Priority.PRIORITY, clusters=("Cụm chợ",))
    return ids, compose(settings, db, speech, ids)


def compose(settings: Settings, db: Database, speech: SpeechService, ids: dict[str, int]) -> int:
    """The commune's evening airing, composed ten minutes ahead; its id."""
    airing_id = programming_service(settings, db, speech, RecordingHandoff(), SESSION - timedelta(minutes=10)
                                    ).run_session(ids["commune"], "evening", SESSION).airing_id
    assert airing_id is not None
    return airing_id


def rows(db: Database, airing_id: int) -> dict[int, Delivery]:
    with db.session() as s:
        return {d.cluster_id: d for d in s.scalars(select(Delivery).where(Delivery.airing_id == airing_id))}


def remaining(settings: Settings, db: Database, speech: SpeechService, airing_id: int, now: datetime) -> dict:
    programmes = remaining_programmes(db, speech, airing_id, now, delay_s=DELAY_S,
                                      uploads_dir=settings.data_dir / "uploads")  # fmt: skip
    return {p.cluster_id: p for p in programmes}


def test_each_cluster_gets_its_own_recorded_programme_and_its_highest_priority(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids, airing_id = composed(settings, db, speech)
    planned = rows(db, airing_id)
    programmes = remaining(settings, db, speech, airing_id, SESSION - timedelta(minutes=5))
    assert sorted(programmes) == sorted([ids["Cụm đình"], ids["Cụm chợ"]])
    for cluster_id, programme in programmes.items():
        assert programme.airing_id == airing_id
        assert (programme.audio.sha256, programme.play_at, programme.expires_at) == (
            planned[cluster_id].audio_sha256, planned[cluster_id].play_at, planned[cluster_id].expires_at)
        assert programme.audio.path.is_file()
    assert programmes[ids["Cụm chợ"]].priority == Priority.PRIORITY
    assert programmes[ids["Cụm đình"]].priority == Priority.NORMAL
    with db.session() as s:
        pieces, priority = cluster_pieces(s, airing_id, ids["Cụm chợ"], settings.data_dir / "uploads")
        assert [p.text for p in pieces] == [MARKET, MEETING] and priority == Priority.PRIORITY
        pieces, priority = cluster_pieces(s, airing_id, ids["Cụm đình"], settings.data_dir / "uploads")
        assert [p.text for p in pieces] == [MEETING] and priority == Priority.NORMAL
        assert cluster_pieces(s, airing_id + 1, ids["Cụm đình"], settings.data_dir / "uploads") == (
            [], Priority.NORMAL)


def test_the_planned_start_holds_while_the_agents_still_have_the_lead_time_else_it_moves(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids, airing_id = composed(settings, db, speech)
    planned = rows(db, airing_id)
    validity = planned[ids["Cụm đình"]].expires_at - planned[ids["Cụm đình"]].play_at
    on_the_edge = SESSION - timedelta(seconds=2)  # the agents still have the 2 s they need to fetch the audio
    kept = remaining(settings, db, speech, airing_id, on_the_edge)
    assert {p.play_at for p in kept.values()} == {SESSION}

    late = SESSION - timedelta(seconds=1.5)
    moved = remaining(settings, db, speech, airing_id, late)
    for cluster_id, programme in moved.items():
        assert programme.play_at == late + timedelta(seconds=DELAY_S)
        assert programme.expires_at == programme.play_at + validity  # as long to play as it had
        stored = rows(db, airing_id)[cluster_id]
        assert (stored.play_at, stored.expires_at, stored.audio_sha256) == (
            programme.play_at, programme.expires_at, programme.audio.sha256)  # the row names what goes out


def test_a_cluster_with_nothing_left_is_skipped_and_the_others_still_get_theirs(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids, airing_id = composed(settings, db, speech)
    with db.session() as s:  # the temple cluster's bulletins were all taken out (a recall)
        s.execute(delete(AiringItem).where(AiringItem.airing_id == airing_id, AiringItem.cluster_id == ids["Cụm đình"]))
    programmes = remaining(settings, db, speech, airing_id, SESSION - timedelta(minutes=5))
    assert sorted(programmes) == [ids["Cụm chợ"]]


def test_only_pending_rows_are_rewritten(settings: Settings, db: Database, speech: SpeechService) -> None:
    ids, airing_id = composed(settings, db, speech)
    with db.session() as s:
        row = s.scalar(select(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id == ids["Cụm chợ"]))
        assert row is not None
        row.state = DeliveryState.SENT
    before = rows(db, airing_id)[ids["Cụm chợ"]]
    late = SESSION + timedelta(seconds=30)
    remaining(settings, db, speech, airing_id, late)
    after = rows(db, airing_id)
    assert (after[ids["Cụm chợ"]].play_at, after[ids["Cụm chợ"]].expires_at) == (before.play_at, before.expires_at)
    assert after[ids["Cụm đình"]].play_at == late + timedelta(seconds=DELAY_S)


def test_a_lost_programme_is_rendered_again_from_its_masters_between_the_chimes(
    settings: Settings, db: Database, speech: SpeechService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=RESUME_LOG)
    ids, airing_id = composed(settings, db, speech)
    planned = rows(db, airing_id)[ids["Cụm đình"]]
    stored = speech.stored_audio(planned.audio_sha256)
    assert stored is not None
    stored.path.unlink()  # the cache lost it
    assert speech.stored_audio(planned.audio_sha256) is None
    programmes = remaining(settings, db, speech, airing_id, SESSION - timedelta(minutes=5))
    again = programmes[ids["Cụm đình"]].audio
    assert again.path.is_file()
    chimed = speech.render_programme([ProgrammePiece(text=MEETING)], chime=True)
    assert again.sha256 == chimed.sha256 and again.duration_s == pytest.approx(planned.duration_s, abs=0.05)
    assert not [r for r in caplog.records if r.name == RESUME_LOG]  # the same audio came out: nothing to report


def test_a_programme_rendered_differently_is_rendered_once_for_all_its_clusters_and_reported(
    settings: Settings, db: Database, speech: SpeechService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ids = add_commune(db, clusters=(("Cụm đình", None), ("Cụm chợ", None)))
    add_bulletin(db, ids, MEETING)
    airing_id = compose(settings, db, speech, ids)
    planned = rows(db, airing_id)
    assert planned[ids["Cụm đình"]].audio_sha256 == planned[ids["Cụm chợ"]].audio_sha256  # one programme, two clusters
    # The node that resumes has lost the cache, and its voice speaks faster: the master comes out different.
    faster = SpeechService(speech_settings(tmp_path / "other").model_copy(update={"speech_rate": 1.25}))
    caplog.set_level(logging.WARNING, logger=RESUME_LOG)
    programmes = remaining(settings, db, faster, airing_id, SESSION - timedelta(minutes=5))
    audio = {cluster_id: p.audio.sha256 for cluster_id, p in programmes.items()}
    assert len(set(audio.values())) == 1 and planned[ids["Cụm đình"]].audio_sha256 not in audio.values()
    # Rendered once for the airing, not once per cluster, and reported as made again.
    assert [r.getMessage() for r in caplog.records if r.name == RESUME_LOG] == [
        f"programme {planned[ids['Cụm đình']].audio_sha256[:12]} re-rendered as {audio[ids['Cụm đình']][:12]} "
        "(a master was lost)"]
    assert {row.audio_sha256 for row in rows(db, airing_id).values()} == set(audio.values())  # the rows name it
