"""The scheduler in-process with real APScheduler, real SQLite and the real speech service.

Sessions are a few seconds ahead (timetables take seconds) with a lead time of one second, so
everything runs on the wall clock: nothing is patched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.db import Database, utc_now
from broadcaster.models import AiringStatus, BulletinStatus, Role
from broadcaster.scheduler import BroadcastScheduler, session_job_id
from broadcaster.scheduler.jobs import HOUSEKEEPING_JOB, SESSION_JOB
from broadcaster.services import registry, users
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.services.programming import ProgrammingService
from broadcaster.services.timetables import set_override
from broadcaster.speech import ProgrammePiece, SpeechService
from broadcaster.timetable import load_timetables
from tests.scheduler.support import (
    add_bulletin,
    add_commune,
    airings,
    bulletin_status,
    events,
    make_database,
    make_settings,
    speech_settings,
    whole_second,
    write_timetable,
)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> SpeechService:
    return SpeechService(speech_settings(tmp_path_factory.mktemp("speech")))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, lead_time_s=1.0, prompt_delay_s=1.0, misfire_grace_s=4.0,
                         scheduler_lease_ttl_s=5.0, scheduler_lease_renew_s=1.0)  # fmt: skip


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = make_database(settings)
    yield database
    database.dispose()


def build(settings: Settings, db: Database, speech: SpeechService, holder: str) -> tuple[BroadcastScheduler,
                                                                                        RecordingHandoff]:  # fmt: skip
    handoff = RecordingHandoff()
    programming = ProgrammingService(settings, db, speech, handoff, load_timetables(settings.schedules_dir))
    return BroadcastScheduler(settings, db, programming, holder=holder), handoff


async def until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)
    return result


def finished(db: Database) -> list[Any]:
    return [a for a in airings(db) if a.status != AiringStatus.PLANNED]


async def test_a_session_is_composed_at_its_lead_time_and_handed_off_to_play_at_its_start(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    text = "Chiều nay họp dân tại nhà văn hóa."
    # Rendered once ahead, as a real lead time of 10 minutes allows; here the lead is 2 s.
    speech.render_programme([ProgrammePiece(text=text)], chime=True)
    settings = settings.model_copy(update={"lead_time_s": 2.0})
    starts_at = whole_second(datetime.now(LOCAL_ZONE) + timedelta(seconds=3))
    write_timetable(settings.schedules_dir, [("soon", starts_at, 1.0)])
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, text)
    scheduler, handoff = build(settings, db, speech, "only")

    scheduler.start()
    try:
        assert scheduler.is_leader
        jobs = {job.id: job for job in scheduler.jobs()}
        job = jobs[session_job_id(ids["commune"], "soon", starts_at)]
        # Only a function reference and primitive arguments are stored.
        assert (job.func_ref, job.args) == (SESSION_JOB, (ids["commune"], "soon", starts_at.isoformat()))
        assert job.trigger.run_date == starts_at - timedelta(seconds=2)
        assert str(job.trigger.run_date.tzinfo) == "Asia/Ho_Chi_Minh"
        assert jobs["housekeeping"].func_ref == HOUSEKEEPING_JOB
        assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (None, True, 1)

        [programme] = await until(lambda: handoff.programmes, 15, "the hand-off")
        [airing] = await until(lambda: finished(db), 5, "the airing")
    finally:
        scheduler.shutdown()
    assert programme.play_at == starts_at and programme.airing_id == airing.id
    assert airing.status == AiringStatus.HANDED_OFF and airing.composed_at is not None
    assert airing.composed_at < starts_at  # composed ahead, not at the start
    assert bulletin_status(db, bulletin) == BulletinStatus.AIRED
    assert session_job_id(ids["commune"], "soon", starts_at) not in {j.id for j in scheduler.jobs()}
    state = scheduler.lease.state()
    assert state is not None and state.expires_at <= utc_now()  # released at shutdown: no wait for a standby


async def test_after_a_restart_a_session_within_grace_airs_late_and_one_beyond_grace_is_missed(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    base = whole_second(datetime.now(LOCAL_ZONE))
    # grace is 4 s; the first scheduler gets 8 s to start before "early", even on a busy machine
    early, recent = base + timedelta(seconds=8), base + timedelta(seconds=12)
    write_timetable(settings.schedules_dir, [("early", early, 0.03), ("recent", recent, 0.5)])
    ids = add_commune(db)
    add_bulletin(db, ids, "Họp dân.")
    first, _ = build(settings, db, speech, "first")
    first.start()
    assert {session_job_id(ids["commune"], n, t) for n, t in (("early", early), ("recent", recent))} <= {
        j.id for j in first.jobs()}
    first.shutdown()  # the server goes down before either session is composed

    await asyncio.sleep((base + timedelta(seconds=14) - datetime.now(LOCAL_ZONE)).total_seconds())
    second, handoff = build(settings, db, speech, "second")
    second.start()  # back at base + 14 s: "early" started 6 s ago (missed), "recent" 2 s ago (late)
    try:
        await until(lambda: len(finished(db)) == 2, 15, "two finished airings")
    finally:
        second.shutdown()
    by_name = {a.session_name: a for a in finished(db)}
    assert by_name["early"].status == AiringStatus.MISSED
    assert "Bỏ lỡ" in (by_name["early"].note or "")
    assert by_name["recent"].status == AiringStatus.AIRED_LATE
    assert "Phát muộn" in (by_name["recent"].note or "")
    [programme] = handoff.programmes
    assert programme.airing_id == by_name["recent"].id and programme.play_at > recent
    assert [e.object_id for e in events(db, "missed")] == [by_name["early"].id]
    [compose] = events(db, "compose")
    assert compose.object_id == by_name["recent"].id and compose.details["status"] == "aired_late"


async def test_changing_a_communes_timetable_moves_its_jobs(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    later = whole_second(datetime.now(LOCAL_ZONE) + timedelta(hours=2))
    write_timetable(settings.schedules_dir, [("chieu", later, 5)])
    ids = add_commune(db)
    scheduler, _ = build(settings, db, speech, "only")
    scheduler.start()
    try:
        before = {j.id for j in scheduler.jobs() if j.id.startswith("session:")}
        assert session_job_id(ids["commune"], "chieu", later) in before
        moved = later + timedelta(minutes=30)
        override = {"sessions": [{"name": "toi", "start": f"{moved:%H:%M:%S}",
                                  "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "max_minutes": 5}]}
        set_override(db, ids["commune"], override, timetables=scheduler.programming.timetables,
                     reschedule=scheduler.reschedule_commune)  # fmt: skip
        after = {j.id for j in scheduler.jobs() if j.id.startswith("session:")}
    finally:
        scheduler.shutdown()
    assert session_job_id(ids["commune"], "chieu", later) not in after
    assert session_job_id(ids["commune"], "toi", moved) in after


async def test_registry_changes_reach_the_running_scheduler_at_once(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    later = whole_second(datetime.now(LOCAL_ZONE) + timedelta(hours=2))
    other = later + timedelta(minutes=20)
    write_timetable(settings.schedules_dir, [("chieu", later, 5)])
    write_timetable(settings.schedules_dir, [("toi", other, 5)], name="mua-gat")
    scheduler, _ = build(settings, db, speech, "only")
    scheduler.start()

    def session_jobs() -> set[str]:
        return {j.id for j in scheduler.jobs() if j.id.startswith("session:")}

    try:
        with db.session() as s:
            # Housekeeping runs every 15 minutes: without the hook, the new commune's sessions would wait for it.
            commune = registry.create_commune(s, None, code="xa-moi", name="Xã Mới",
                                              schedules_dir=settings.schedules_dir,
                                              on_timetable_change=scheduler.reschedule_commune)  # fmt: skip
            commune_id = commune.id
            created = session_jobs()
            province = users.create_user(s, None, username="tinh", password="mat-khau-tinh", role=Role.ADMIN,
                                         commune_id=None)  # fmt: skip
            registry.update_commune(s, province, commune_id, registry.CommuneChanges(timetable="mua-gat"),
                                    schedules_dir=settings.schedules_dir,
                                    on_timetable_change=scheduler.reschedule_commune)  # fmt: skip
            switched = session_jobs()
            registry.delete_commune(s, province, commune_id, on_timetable_change=scheduler.reschedule_commune)
            deleted = session_jobs()
    finally:
        scheduler.shutdown()
    assert session_job_id(commune_id, "chieu", later) in created
    assert session_job_id(commune_id, "chieu", later) not in switched
    assert session_job_id(commune_id, "toi", other) in switched
    assert not {job for job in deleted if job.startswith(f"session:{commune_id}:")}


async def test_schedulers_of_two_databases_in_one_process_each_run_their_own_jobs(
    tmp_path: Path, speech: SpeechService
) -> None:
    # A job carries only primitive arguments; it must still reach the scheduler whose store fired it.
    starts_at = whole_second(datetime.now(LOCAL_ZONE) + timedelta(seconds=3))
    worlds = []
    for name in ("xa-mot", "xa-hai"):
        settings = make_settings(tmp_path / name, lead_time_s=1.0, prompt_delay_s=1.0, misfire_grace_s=4.0,
                                 scheduler_lease_ttl_s=5.0, scheduler_lease_renew_s=1.0)  # fmt: skip
        write_timetable(settings.schedules_dir, [("soon", starts_at, 0.5)])
        db = make_database(settings)
        ids = add_commune(db)
        add_bulletin(db, ids, f"Thông báo của {name}.")
        scheduler, handoff = build(settings, db, speech, name)
        worlds.append((db, ids, scheduler, handoff))
    for _, _, scheduler, _ in worlds:
        scheduler.start()
    try:
        for db, ids, scheduler, handoff in worlds:
            assert scheduler.is_leader
            [programme] = await until(lambda handoff=handoff: handoff.programmes, 15, "each hand-off")
            [airing] = await until(lambda db=db: finished(db), 5, "each airing")
            assert programme.airing_id == airing.id and airing.commune_id == ids["commune"]
    finally:
        for db, _, scheduler, _ in worlds:
            scheduler.shutdown()
            db.dispose()
