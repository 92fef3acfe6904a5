"""Across real processes: a SIGKILLed server loses nothing it acknowledged, and one scheduler runs at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from broadcaster.api import API_PREFIX
from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.db import Database, utc_now
from broadcaster.models import Airing, AiringItemStatus, AiringStatus, Role, User
from broadcaster.scheduler import Lease, session_job_id
from broadcaster.services import auth
from broadcaster.services.handoff import read_records
from broadcaster.speech import ProgrammePiece, SpeechService
from tests.scheduler.processes import Server, lease_holder_pid
from tests.scheduler.support import (
    add_bulletin,
    add_commune,
    airings,
    make_database,
    make_settings,
    wait_until,
    whole_second,
    write_timetable,
)

pytestmark = pytest.mark.slow

TEXT = "Sáng mai bảy giờ, trạm y tế xã tiêm phòng cho trẻ em."
SHORT = "Họp dân."  # about 7 s with the chimes: sessions of 7.2 s can follow each other 8 s apart


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, lead_time_s=2.0, misfire_grace_s=60.0, prompt_delay_s=1.0,
                             scheduler_lease_ttl_s=2.0, scheduler_lease_renew_s=0.5)  # fmt: skip
    # Warm the shared cache as a 10-minute lead time would; the test's lead time is 2 s.
    speech = SpeechService(settings)
    for text_ in (TEXT, SHORT):
        speech.render_programme([ProgrammePiece(text=text_)], chime=True)
    return settings


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def job_ids(db: Database) -> set[str]:
    with db.engine.connect() as connection:
        return {row[0] for row in connection.execute(text("SELECT id FROM apscheduler_jobs"))}


def handed_off(server: Server) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in read_records(server.handoff_path) if r["event"] == "hand_off"]


def test_a_bulletin_acknowledged_before_a_sigkill_still_airs_after_the_restart(
    settings: Settings, tmp_path: Path, servers: list[Server]
) -> None:
    db = make_database(settings)
    ids = add_commune(db, four_eyes=False)  # its one account writes and approves
    with db.session() as s:
        token = auth.issue_token(s, s.get_one(User, ids["author"]), ttl=timedelta(hours=1)).token
        admin = User(username="quantri", role=Role.ADMIN, commune_id=ids["commune"], password_hash="x")
        s.add(admin)
        s.flush()
        admin_token = auth.issue_token(s, admin, ttl=timedelta(hours=1)).token
    write_timetable(settings.schedules_dir, [("sang", datetime.now(LOCAL_ZONE) - timedelta(hours=3), 1.0)])

    first = Server(settings, tmp_path, "first")
    servers.append(first.start())
    # The session is given to the commune once the server runs (starting may take long on a loaded
    # machine), through its API: the leader plans it at once.
    starts_at = whole_second(datetime.now(LOCAL_ZONE) + timedelta(seconds=16))
    override = {"sessions": [{"name": "chieu", "start": f"{starts_at:%H:%M:%S}", "max_minutes": 1.0,
                              "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}]}
    answer = httpx.put(f"{first.url}{API_PREFIX}/communes/{ids['commune']}/timetable", json=override,
                       headers={"Authorization": f"Bearer {admin_token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    job_id = session_job_id(ids["commune"], "chieu", starts_at)
    wait_until(lambda: job_id in job_ids(db), 10, what="the session job in the job store")
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{first.url}{API_PREFIX}/bulletins", headers=headers, timeout=10,
                         json={"title": "Tiêm phòng", "text": TEXT})  # fmt: skip
    assert created.status_code == 201, created.text
    bulletin_id = created.json()["id"]
    for step in ("submit", "approve"):
        answer = httpx.post(f"{first.url}{API_PREFIX}/bulletins/{bulletin_id}/{step}", headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "approved"  # acknowledged

    first.kill()
    assert datetime.now(LOCAL_ZONE) < starts_at - timedelta(seconds=2), "too slow: killed after composing began"
    assert handed_off(first) == [] and airings(db) == []
    assert job_id in job_ids(db)  # the job survived the kill in the job store

    second = Server(settings, tmp_path, "second")
    servers.append(second.start())
    # The session may be due before the restarted server is up: it runs late, within the misfire grace.
    [record] = wait_until(lambda: handed_off(second), 90, what="the programme handed off after the restart")

    # The hand-off happens just before the airing's status is committed: wait for that commit.
    [airing] = wait_until(
        lambda: [a for a in airings(db) if a.status in (AiringStatus.HANDED_OFF, AiringStatus.AIRED_LATE)],
        10, what="the airing recorded as handed off",
    )  # fmt: skip
    assert [(i.bulletin_id, i.status) for i in airing.items] == [(bulletin_id, AiringItemStatus.INCLUDED)]
    assert record["airing_id"] == airing.id and record["cluster_id"] == ids["Cụm 1"]
    assert datetime.fromisoformat(record["play_at"]) >= starts_at
    assert Path(record["audio"]["path"]).is_file()
    assert lease_holder_pid(Lease(db, 2.0)) == second.pid
    assert handed_off(first) == []


def test_a_second_scheduler_stands_by_without_running_jobs_and_takes_over_when_the_first_dies(
    settings: Settings, tmp_path: Path, servers: list[Server]
) -> None:
    """Event-driven, so a loaded machine cannot make it flaky: the second session is given to the
    commune only after the leader is dead, through the standby's own API, so only a leader that
    took over can ever air it, whenever that happens (on time or late, within the grace)."""
    db = make_database(settings)
    ids = add_commune(db)
    add_bulletin(db, ids, SHORT)
    with db.session() as s:
        admin = User(username="quantri", role=Role.ADMIN, commune_id=ids["commune"], password_hash="x")
        s.add(admin)
        s.flush()
        token = auth.issue_token(s, admin, ttl=timedelta(hours=1)).token
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    write_timetable(settings.schedules_dir, [("mot", datetime.now(LOCAL_ZONE) - timedelta(hours=3), 0.12)])
    lease = Lease(db, 2.0)

    leader = Server(settings, tmp_path, "leader")
    servers.append(leader.start())
    assert lease_holder_pid(lease) == leader.pid
    standby = Server(settings, tmp_path, "standby")
    servers.append(standby.start())
    assert "standing by" in standby.log()
    # The first session is given once both run (starting may take long on a loaded machine), through
    # the leader's API: it plans it at once.
    first_session = whole_second(datetime.now(LOCAL_ZONE) + timedelta(seconds=4))
    first_only = {"sessions": [{"name": "mot", "start": f"{first_session:%H:%M:%S}", "max_minutes": 0.12,
                                "days": every_day}]}
    answer = httpx.put(f"{leader.url}{API_PREFIX}/communes/{ids['commune']}/timetable", json=first_only,
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text

    wait_until(lambda: handed_off(leader), 60, what="the first session from the leader")
    # Killed between hand-off and its record, the airing would be handed off again by the next
    # leader (at-least-once, by design): wait until it is recorded, to see each process's own work.
    wait_until(lambda: [a for a in airings(db) if a.status == AiringStatus.HANDED_OFF], 30, what="the record")
    assert lease_holder_pid(lease) == leader.pid
    leader.kill()
    # A few seconds from now, and after the first session (sessions may not overlap).
    second_session = whole_second(max(datetime.now(LOCAL_ZONE) + timedelta(seconds=4),
                                      first_session + timedelta(seconds=8)))
    override = {"sessions": [
        {"name": name, "start": f"{start:%H:%M:%S}", "max_minutes": 0.12, "days": every_day}
        for name, start in (("mot", first_session), ("hai", second_session))]}
    answer = httpx.put(f"{standby.url}{API_PREFIX}/communes/{ids['commune']}/timetable", json=override,
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    wait_until(lambda: lease_holder_pid(lease) == standby.pid, 30, what="the standby to take the lease")
    wait_until(lambda: handed_off(standby), 60, what="the second session from the new leader")

    with db.session() as s:
        rows = s.execute(select(Airing.session_name, Airing.id)).all()
    by_session = dict(rows)
    assert len(rows) == 2 and set(by_session) == {"mot", "hai"}  # each session aired once, by one process
    assert [r["airing_id"] for r in handed_off(leader)] == [by_session["mot"]]
    assert [r["airing_id"] for r in handed_off(standby)] == [by_session["hai"]]
    assert standby.log().count("leading the scheduler") == 1
    # APScheduler's own log: the first session's job ran in the leader and never in the standby.
    assert 'Running job "mot ' in leader.log() and 'Running job "mot ' not in standby.log()
    assert 'Running job "hai ' in standby.log()


def test_a_restarted_leader_takes_its_lease_back_at_once(tmp_path: Path, servers: list[Server]) -> None:
    # A long TTL that the restart must not wait for (a different node does: tests/scheduler/test_lease.py).
    settings = make_settings(tmp_path, scheduler_lease_ttl_s=120.0, scheduler_lease_renew_s=0.5)
    db = make_database(settings)
    write_timetable(settings.schedules_dir, [("sang", whole_second(datetime.now(LOCAL_ZONE)), 1.0)])
    lease = Lease(db, 120.0)
    first = Server(settings, tmp_path, "first")
    servers.append(first.start())
    assert lease_holder_pid(lease) == first.pid
    held_until = lease.state().expires_at  # type: ignore[union-attr]

    first.kill()
    second = Server(settings, tmp_path, "second")
    servers.append(second.start())
    wait_until(lambda: lease_holder_pid(lease) == second.pid, 30, what="the restarted node to lead again")
    assert utc_now() < held_until  # taken back long before the killed life's lease ran out
