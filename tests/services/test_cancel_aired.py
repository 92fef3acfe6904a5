"""Cancelling an aired bulletin while its window is open, and a programme handed off with a cancelled bulletin.

Sessions are composed by the real programming service (real speech, real SQLite) at fixed instants;
the workflow cancels on a clock set before or after the session start.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from broadcaster.clock import LOCAL_ZONE, FixedClock
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import Airing, AiringStatus, BulletinStatus, User
from broadcaster.services.bulletins import BulletinService, NotAuthor
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.services.scoping import RoleTooLow
from broadcaster.services.workflow import AiringWindowOver, Workflow
from broadcaster.speech import SpeechService
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
from tests.services.support import add_officer, programming_service

SESSION = datetime.combine(datetime.now(LOCAL_ZONE).date(), time(17, 0), LOCAL_ZONE)
LATER = SESSION + timedelta(hours=3)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, misfire_grace_s=600.0, prompt_delay_s=5.0)
    write_timetable(settings.schedules_dir, [("evening", SESSION, 2.0), ("night", LATER, 2.0)])
    return settings


def compose(settings: Settings, db: Database, speech: SpeechService, commune_id: int, name: str,
            starts_at: datetime) -> Airing:
    """Run one session as its job would, ten minutes before it starts."""
    programming = programming_service(settings, db, speech, RecordingHandoff(), starts_at - timedelta(minutes=10))
    result = programming.run_session(commune_id, name, starts_at)
    [airing] = [a for a in airings(db) if a.id == result.airing_id]
    return airing


def cancel(settings: Settings, db: Database, at: datetime, user_id: int, bulletin_id: int) -> BulletinStatus:
    """Cancel through the workflow on a clock set to ``at``; the stored status after it."""
    uploads = UploadStore(settings.data_dir / "uploads", max_bytes=1024 * 1024, max_duration_s=60)
    with db.session() as s:
        workflow = Workflow(BulletinService(s, clock=FixedClock(at), uploads=uploads),
                            programming=lambda: pytest.fail("not an emergency"))
        actor = s.get_one(User, user_id)
        return workflow.cancel(actor, bulletin_id, "Đã hoãn").status


def test_leadership_cancels_an_aired_bulletin_and_the_programme_already_handed_off_says_so(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm chợ", None), ("Cụm đình", None)))
    officer = add_officer(db, ids["commune"])
    bulletin = add_bulletin(db, {**ids, "author": officer}, "Tối nay họp dân tại nhà văn hóa.")
    first = compose(settings, db, speech, ids["commune"], "evening", SESSION - timedelta(days=1))
    assert first.status == AiringStatus.HANDED_OFF and bulletin_status(db, bulletin) == BulletinStatus.AIRED
    evening = compose(settings, db, speech, ids["commune"], "evening", SESSION)
    assert evening.status == AiringStatus.HANDED_OFF and evening.note is None

    # Its author, an officer, may not take an aired bulletin off the air; leadership may.
    with pytest.raises(RoleTooLow):
        cancel(settings, db, SESSION - timedelta(minutes=5), officer, bulletin)
    assert cancel(settings, db, SESSION - timedelta(minutes=5), ids["author"], bulletin) == BulletinStatus.CANCELLED

    [cancelled] = events(db, "cancel")
    assert (cancelled.object_id, cancelled.actor_id, cancelled.details["was"]) == (bulletin, ids["author"], "aired")
    # Yesterday's airing has played: only this evening's, handed off but not started, is marked.
    [marked] = events(db, "cancel_after_handoff")
    assert (marked.object_type, marked.object_id, marked.commune_id, marked.actor_id) == (
        "airing", evening.id, ids["commune"], ids["author"])
    assert marked.details["bulletin_id"] == bulletin
    assert sorted(marked.details["cluster_ids"]) == sorted([ids["Cụm chợ"], ids["Cụm đình"]])
    by_id = {a.id: a for a in airings(db)}
    # When the programme holding it was to start (the earliest of its clusters).
    assert marked.details["play_at"] == min(d.play_at for d in by_id[evening.id].deliveries).isoformat()
    assert by_id[first.id].note is None
    note = by_id[evening.id].note or ""
    assert f"số {bulletin}" in note and "đã hủy" in note and "cụm loa «Cụm chợ», «Cụm đình»;" in note

    # Cancelled, it is no longer eligible: the night session has nothing to air.
    assert compose(settings, db, speech, ids["commune"], "night", LATER).status == AiringStatus.EMPTY


def test_cancelling_after_the_session_started_marks_no_airing(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, "Sáng mai tiêm phòng cho trẻ em.")
    evening = compose(settings, db, speech, ids["commune"], "evening", SESSION)
    # At its start the programme is playing: nothing is left to come.
    assert cancel(settings, db, SESSION, ids["author"], bulletin) == BulletinStatus.CANCELLED
    assert events(db, "cancel_after_handoff") == []
    assert {a.id: a for a in airings(db)}[evening.id].note is None


def test_an_aired_bulletin_whose_window_ended_cannot_be_cancelled(settings: Settings, db: Database) -> None:
    ids = add_commune(db)
    day = SESSION.date()
    bulletin = add_bulletin(db, ids, "Đã phát xong.", status=BulletinStatus.AIRED, start=day - timedelta(days=3),
                            end=day - timedelta(days=1))
    with pytest.raises(AiringWindowOver) as refused:
        cancel(settings, db, SESSION, ids["author"], bulletin)
    assert refused.value.status == 409 and "đã phát hết thời gian phát" in refused.value.message
    assert bulletin_status(db, bulletin) == BulletinStatus.AIRED


def test_officers_still_cancel_only_their_own_drafts(settings: Settings, db: Database) -> None:
    ids = add_commune(db)
    officer = add_officer(db, ids["commune"])
    own = add_bulletin(db, {**ids, "author": officer}, "Bản nháp của tôi.", status=BulletinStatus.SUBMITTED)
    others = add_bulletin(db, ids, "Bản nháp của người khác.", status=BulletinStatus.DRAFT)
    assert cancel(settings, db, SESSION, officer, own) == BulletinStatus.CANCELLED
    with pytest.raises(NotAuthor):
        cancel(settings, db, SESSION, officer, others)
    assert bulletin_status(db, others) == BulletinStatus.DRAFT
