"""The timetable service: read a commune's timetable, override it (validated, audited), see what will air."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from broadcaster.clock import LOCAL_ZONE, FixedClock
from broadcaster.config import PROJECT_ROOT, Settings
from broadcaster.db import Database
from broadcaster.models import AiringStatus, Commune
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.services.programming import ProgrammingService
from broadcaster.services.scoping import CommuneNotFound
from broadcaster.services.timetables import UpcomingRangeInvalid, get_timetable, set_override, upcoming
from broadcaster.speech import SpeechService
from broadcaster.timetable import TimetableError, load_timetables
from tests.scheduler.support import (
    add_bulletin,
    add_commune,
    events,
    make_database,
    make_settings,
    speech_settings,
)

TODAY = datetime.now(LOCAL_ZONE).date()


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> SpeechService:
    return SpeechService(speech_settings(tmp_path_factory.mktemp("speech")))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, schedules_dir=PROJECT_ROOT / "schedules")


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = make_database(settings)
    yield database
    database.dispose()


def test_an_override_is_validated_normalized_audited_and_can_be_reset(settings: Settings, db: Database) -> None:
    timetables = load_timetables(settings.schedules_dir)
    ids = add_commune(db)
    commune_id = ids["commune"]
    assert get_timetable(db, commune_id, timetables=timetables) is timetables["default"]
    rescheduled: list[int] = []

    with pytest.raises(TimetableError) as caught:
        set_override(db, commune_id, {"sessions": [{"name": "sang", "start": "6h", "days": ["t2"], "max_minutes": 10}]},
                     timetables=timetables, actor_id=ids["author"], reschedule=rescheduled.append)
    assert caught.value.field == "sessions[0].start"
    assert get_timetable(db, commune_id, timetables=timetables) is timetables["default"]  # nothing stored
    assert rescheduled == []

    override = {"sessions": [{"name": "sang", "label": "Sáng", "start": "5:30", "days": ["t2", "T7"],
                              "max_minutes": 20}]}  # fmt: skip
    effective = set_override(db, commune_id, override, timetables=timetables, actor_id=ids["author"],
                             reschedule=rescheduled.append)  # fmt: skip
    assert effective.overridden and effective.sessions[0].start == time(5, 30)
    with db.session() as s:
        stored = s.get_one(Commune, commune_id).timetable_override
    assert stored == {"description": "", "sessions": [
        {"name": "sang", "label": "Sáng", "start": "05:30", "days": ["mon", "sat"], "max_minutes": 20.0}]}
    assert rescheduled == [commune_id]
    [event] = events(db, "timetable_override")
    assert event.actor_id == ids["author"] and event.details["override"] == stored

    assert set_override(db, commune_id, None, timetables=timetables) is timetables["default"]
    assert [e.action for e in events(db)][-1] == "timetable_reset"
    with pytest.raises(CommuneNotFound):
        get_timetable(db, 999, timetables=timetables)


def test_upcoming_shows_per_cluster_what_airs_and_what_overflows(
    settings: Settings, db: Database, speech: SpeechService, tmp_path: Path
) -> None:
    ids = add_commune(db, zones=("Thôn A",), clusters=(("Cụm A", "Thôn A"), ("Cụm B", None)),
                      override={"sessions": [{"name": "ngan", "start": "12:00", "days": ["mon", "tue", "wed", "thu",
                                "fri", "sat", "sun"], "max_minutes": 0.25}]})  # fmt: skip
    long_text = ("Thông báo về việc tổ chức tiêm phòng dại cho chó mèo tại nhà văn hóa các thôn "
                 "vào sáng thứ bảy tuần này, đề nghị bà con mang vật nuôi đến đúng giờ.")  # fmt: skip
    short = add_bulletin(db, ids, "Họp thôn A.", zones=("Thôn A",), start=TODAY, end=TODAY + timedelta(days=1))
    long = add_bulletin(db, ids, long_text, repeat=3, start=TODAY, end=TODAY)
    programming = ProgrammingService(settings, db, speech, RecordingHandoff(), load_timetables(settings.schedules_dir),
                                     FixedClock(datetime.combine(TODAY, time(0, 0), LOCAL_ZONE)))  # fmt: skip

    with pytest.raises(UpcomingRangeInvalid):
        upcoming(db, ids["commune"], 0, programming=programming)
    sessions = upcoming(db, ids["commune"], 3, programming=programming)

    assert [s.starts_at.date() for s in sessions] == [TODAY + timedelta(days=n) for n in range(3)]
    today, tomorrow, after = sessions
    assert today.status == "planned" and not today.composed
    by_cluster = {c.cluster_name: c for c in today.clusters}
    # 15 s session: the short bulletin fits at Cụm A, the long one (read three times) overflows everywhere.
    assert [i.bulletin_id for i in by_cluster["Cụm A"].included] == [short]
    assert [i.bulletin_id for i in by_cluster["Cụm A"].deferred] == [long]
    assert by_cluster["Cụm B"].included == () and [i.bulletin_id for i in by_cluster["Cụm B"].deferred] == [long]
    assert by_cluster["Cụm A"].estimated_s > by_cluster["Cụm A"].included[0].duration_s
    assert [i.bulletin_id for c in tomorrow.clusters for i in c.included] == [short]
    assert all(c.included == () and c.deferred == () for c in after.clusters)

    # Once a session is composed, the page shows what was actually composed.
    programming.run_session(ids["commune"], "ngan", today.starts_at)
    composed = upcoming(db, ids["commune"], 1, programming=programming)[0]
    assert composed.composed and composed.status == str(AiringStatus.HANDED_OFF)
    actual = {c.cluster_name: c for c in composed.clusters}
    assert [i.bulletin_id for i in actual["Cụm A"].included] == [short]
    assert [i.bulletin_id for i in actual["Cụm A"].deferred] == [long]
    assert actual["Cụm A"].estimated_s > 0
