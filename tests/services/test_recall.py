"""Recalling a session programme handed off with a bulletin cancelled before the session starts.

The real programming service composes (real speech, real SQLite); the workflow cancels with the
recall hook wired to ``ProgrammingService.recompose_airing``, as the runtime wires it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from broadcaster.clock import LOCAL_ZONE, FixedClock
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import (
    AiringItem,
    AiringItemStatus,
    AiringStatus,
    BulletinStatus,
    Delivery,
    DeliveryState,
    User,
)
from broadcaster.services.bulletins import BulletinService
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.services.programming import ProgrammingService
from broadcaster.services.workflow import Workflow
from broadcaster.speech import ProgrammePiece, SpeechService
from broadcaster.uploads import UploadStore
from tests.scheduler.support import (
    add_bulletin,
    add_commune,
    airings,
    bulletin_status,
    events,
    make_settings,
    write_timetable,
)
from tests.services.support import programming_service

MARKET_NOTICE = "Chợ phiên mở cửa sáng chủ nhật."
SESSION = datetime.combine(datetime.now(LOCAL_ZONE).date(), time(17, 0), LOCAL_ZONE)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, misfire_grace_s=600.0, prompt_delay_s=5.0)
    write_timetable(settings.schedules_dir, [("evening", SESSION, 2.0)])
    return settings


def cancel_with_recall(settings: Settings, db: Database, programming: ProgrammingService, at: datetime,
                       user_id: int, bulletin_id: int) -> None:
    uploads = UploadStore(settings.data_dir / "uploads", max_bytes=1024 * 1024, max_duration_s=60)
    with db.session() as s:
        workflow = Workflow(BulletinService(s, clock=FixedClock(at), uploads=uploads),
                            programming=lambda: pytest.fail("not an emergency"),
                            on_recall=lambda airing, clusters, actor: programming.recompose_airing(
                                airing, clusters, actor_id=actor))
        workflow.cancel(s.get_one(User, user_id), bulletin_id, "Hoãn họp")


def test_cancel_after_handoff_hands_off_a_replacement_and_stops_an_emptied_cluster(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm chợ", None), ("Cụm đình", None)))
    market, temple = ids["Cụm chợ"], ids["Cụm đình"]
    meeting = add_bulletin(db, ids, "Tối nay họp dân tại nhà văn hóa.")
    market_only = add_bulletin(db, ids, MARKET_NOTICE, clusters=("Cụm chợ",))
    handoff = RecordingHandoff()
    composer = programming_service(settings, db, speech, handoff, SESSION - timedelta(minutes=10))
    airing_id = composer.run_session(ids["commune"], "evening", SESSION).airing_id
    assert airing_id is not None
    first = {p.cluster_id: p for p in handoff.programmes}
    assert set(first) == {market, temple}

    at = SESSION - timedelta(minutes=5)
    cancel_with_recall(settings, db, programming_service(settings, db, speech, handoff, at), at, ids["author"], meeting)

    # The market gets a new programme (the market notice alone), the temple nothing: it is stopped.
    [replacement] = handoff.programmes[2:]
    assert replacement.cluster_id == market and replacement.airing_id == airing_id
    assert replacement.audio.sha256 != first[market].audio.sha256
    assert replacement.play_at == first[market].play_at
    alone = speech.render_programme([ProgrammePiece(text=MARKET_NOTICE)], chime=True)
    assert replacement.audio.sha256 == alone.sha256
    assert handoff.stops == [(airing_id, (temple,))]

    with db.session() as s:
        deliveries = {d.cluster_id: d for d in s.scalars(select(Delivery).where(Delivery.airing_id == airing_id))}
        items = [(i.cluster_id, i.bulletin_id, i.status) for i in s.scalars(
            select(AiringItem).where(AiringItem.airing_id == airing_id).order_by(AiringItem.cluster_id))]
    assert (deliveries[market].audio_sha256, deliveries[market].audio_size) == (alone.sha256, alone.size)
    assert deliveries[market].state == DeliveryState.PENDING
    assert deliveries[temple].state == DeliveryState.CANCELLED and "[recalled]" in (deliveries[temple].error or "")
    assert deliveries[temple].audio_sha256 == first[temple].audio.sha256  # what was withdrawn, for the log
    assert items == [(market, market_only, AiringItemStatus.INCLUDED)]

    [recall] = events(db, "recall")
    assert (recall.object_id, recall.actor_id) == (airing_id, ids["author"])
    assert recall.details["removed"] == {str(market): [meeting], str(temple): [meeting]}
    assert recall.details["stopped"] == [temple]
    [airing] = [a for a in airings(db) if a.id == airing_id]
    assert airing.status == AiringStatus.HANDED_OFF
    assert "Đã thu hồi" in (airing.note or "") and "«Cụm đình»" in (airing.note or "")
    assert len(events(db, "cancel_after_handoff")) == 1


def test_recalling_the_last_bulletin_leaves_an_empty_airing(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    only = add_bulletin(db, ids, "Sáng mai tiêm phòng cho trẻ em.")
    handoff = RecordingHandoff()
    airing_id = programming_service(settings, db, speech, handoff, SESSION - timedelta(minutes=10)).run_session(
        ids["commune"], "evening", SESSION).airing_id
    at = SESSION - timedelta(minutes=1)
    cancel_with_recall(settings, db, programming_service(settings, db, speech, handoff, at), at, ids["author"], only)
    assert len(handoff.programmes) == 1 and handoff.stops == [(airing_id, (ids["Cụm 1"],))]
    [airing] = [a for a in airings(db) if a.id == airing_id]
    assert airing.status == AiringStatus.EMPTY
    assert bulletin_status(db, only) == BulletinStatus.CANCELLED
    with db.session() as s:
        assert s.scalars(select(AiringItem).where(AiringItem.airing_id == airing_id)).all() == []
