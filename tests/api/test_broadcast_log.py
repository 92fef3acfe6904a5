"""The broadcast log over the API: rows from real airings (a composed session, a missed one, an emergency)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from broadcaster.clock import SystemClock, local
from broadcaster.models import BulletinStatus
from broadcaster.timetable import effective_timetable, next_occurrences
from tests.api.world import World

API = "/api/v1"


def _occurrences(world: World, days_back: int, days_ahead: int) -> list:  # type: ignore[type-arg]
    now = SystemClock().now()
    with world.db.session() as session:
        from broadcaster.models import Commune

        commune = session.get(Commune, world.communes["A"].id)
        timetable = effective_timetable(commune, world.runtime.timetables)  # type: ignore[arg-type]
    return next_occurrences(timetable, now - timedelta(days=days_back), now + timedelta(days=days_ahead))


def _air_sessions(world: World) -> tuple[int, int, str]:
    """Compose the next session (with one approved bulletin) and record one of an earlier day missed."""
    now = SystemClock().now()
    upcoming = [o for o in _occurrences(world, 0, 8) if o.starts_at > now + timedelta(hours=1)][0]
    day = local(upcoming.starts_at).date()
    # Past its grace whatever the time of day (a session that began minutes ago would still air late).
    grace = timedelta(seconds=world.settings.misfire_grace_s)
    past = [o for o in _occurrences(world, 8, 0)
            if local(o.starts_at).date() < day and o.starts_at < now - grace][-1]
    bulletin_id = world.bulletin(status=BulletinStatus.APPROVED, title='=HYPERLINK("http://x","bấm")',
                                 start_date=day, end_date=day)
    programming = world.runtime.programming
    composed = programming.run_session(world.communes["A"].id, upcoming.name, upcoming.starts_at)
    missed = programming.run_session(world.communes["A"].id, past.name, past.starts_at)
    assert composed.airing_id is not None and missed.airing_id is not None
    return composed.airing_id, bulletin_id, day.isoformat()


def test_log_rows_filters_and_scope(world: World) -> None:
    airing_id, bulletin_id, day = _air_sessions(world)
    headers = world.headers("officer")
    rows = world.client.get(f"{API}/broadcast-log", headers=headers).json()
    by_airing = {row["airing_id"]: row for row in rows}
    session_row = by_airing[airing_id]
    assert session_row["bulletin_id"] == bulletin_id and session_row["item_status"] == "included"
    assert session_row["cluster_id"] == world.communes["A"].cluster_id
    assert session_row["delivery_state"] == "pending" and session_row["starts_at"].endswith("+07:00")
    missed = [row for row in rows if row["airing_status"] == "missed"]
    assert len(missed) == 1 and missed[0]["cluster_id"] is None and "Bỏ lỡ" in missed[0]["note"]

    on_day = world.client.get(f"{API}/broadcast-log", params={"date_from": day, "date_to": day}, headers=headers)
    assert {row["airing_id"] for row in on_day.json()} == {airing_id}
    by_bulletin = world.client.get(f"{API}/broadcast-log", params={"bulletin_id": bulletin_id}, headers=headers)
    assert [row["airing_id"] for row in by_bulletin.json()] == [airing_id]
    by_cluster = world.client.get(f"{API}/broadcast-log", params={"cluster_id": world.communes["A"].cluster_id},
                                  headers=headers)
    assert [row["airing_id"] for row in by_cluster.json()] == [airing_id]

    assert world.client.get(f"{API}/broadcast-log", headers=world.headers("officer", "B")).json() == []
    foreign = world.client.get(f"{API}/broadcast-log", params={"bulletin_id": bulletin_id},
                               headers=world.headers("officer", "B"))
    assert foreign.status_code == 404


def test_csv_export_is_spreadsheet_safe(world: World) -> None:
    airing_id, bulletin_id, _day = _air_sessions(world)
    response = world.client.get(f"{API}/broadcast-log.csv", headers=world.headers("officer"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    row = next(r for r in rows if r["airing_id"] == str(airing_id))
    # A title starting with "=" would run as a formula in a spreadsheet: it is quoted as text.
    assert row["bulletin_title"] == '\'=HYPERLINK("http://x","bấm")'
    assert row["bulletin_id"] == str(bulletin_id) and row["delivery_state"] == "pending"
    assert list(rows[0].keys())[:4] == ["airing_id", "commune_id", "kind", "session_name"]


def test_a_play_cut_and_aired_again_shows_both_in_the_log(world: World) -> None:
    airing_id, _bulletin_id, _day = _air_sessions(world)
    with world.db.session() as session:  # what two agent reports leave (tests/e2e: the real agent run)
        from broadcaster.models import Delivery

        row = session.scalars(select(Delivery).where(Delivery.airing_id == airing_id)).one()
        row.plays = [
            {"order_id": "a", "started_at": "2026-12-01T10:00:03+00:00", "ended_at": "2026-12-01T10:00:15+00:00",
             "completed": False, "reason": "stopped"},
            {"order_id": "b", "started_at": "2026-12-01T10:00:20+00:00", "ended_at": "2026-12-01T10:01:55+00:00",
             "completed": True, "reason": None},
        ]
    rows = world.client.get(f"{API}/broadcast-log", params={"bulletin_id": _bulletin_id},
                            headers=world.headers("officer")).json()
    assert rows[0]["play_count"] == 2
    assert rows[0]["plays"] == "17:00:03 phát dở 12 giây (bị dừng); 17:00:20 phát trọn 95 giây"
    csv_text = world.client.get(f"{API}/broadcast-log.csv", headers=world.headers("officer")).text
    assert "phát dở 12 giây" in csv_text
