"""A bulletin cancelled after its session programme reached the agent, before the session starts.

The real app (uvicorn, delivery, programming, espeak) composes a session of two bulletins and
delivers it to a real agent process; leadership cancels one through the API; the agent must play
the replacement programme, not the one it already downloaded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.models import AiringItem, Commune, DeliveryState, OrderStatus
from tests.agent.harness import free_port, wait_for
from tests.e2e.harness import (
    PASSWORD,
    InProcessServer,
    agent_for,
    delivery_settings,
    orders_of,
    seed_commune,
    wait_delivery,
)
from tests.scheduler.support import add_bulletin, whole_second, write_timetable

SESSION_IN_S = 20.0  # room to compose two bulletins and deliver them before the session starts


def test_cancelled_bulletin_is_recalled_and_the_agent_plays_the_replacement(tmp_path: Path) -> None:
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    write_timetable(schedules, [("khac", datetime.now(LOCAL_ZONE) - timedelta(hours=3), 5.0)])
    port = free_port()
    settings = delivery_settings(tmp_path, port, schedules_dir=schedules)
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 1, users=True)
    [cluster] = seed.clusters
    ids = {"commune": seed.commune_id, "author": seed.users["approver"]}
    keep = add_bulletin(db, ids, "Sáng mai tiêm phòng cho trẻ em tại trạm y tế.")
    drop = add_bulletin(db, ids, "Tối nay họp dân tại nhà văn hóa.")
    server = InProcessServer(settings, port).start()
    agent = agent_for(tmp_path, cluster, seed, settings).start()
    try:
        # The session is given to the commune only now that the server and agent run (a loaded machine
        # may take long to start them): its own timetable, read when the session is composed.
        starts_at = whole_second(datetime.now(LOCAL_ZONE) + timedelta(seconds=SESSION_IN_S))
        with db.session() as s:
            s.get_one(Commune, seed.commune_id).timetable_override = {"sessions": [
                {"name": "thu", "start": f"{starts_at:%H:%M:%S}", "max_minutes": 5.0,
                 "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}]}
        runtime = server.runtime
        airing = runtime.programming.run_session(seed.commune_id, "thu", starts_at).airing_id
        assert airing is not None
        [first] = orders_of(db, airing, cluster.id)
        wait_for(lambda: orders_of(db, airing, cluster.id)[0].status is OrderStatus.ACCEPTED, 10,
                 "the agent to take the first programme")
        assert datetime.now(LOCAL_ZONE) < starts_at, "composing took too long for this test"

        token = httpx.post(f"{server.url}/api/v1/auth/token", timeout=30,
                           json={"username": "approver-xa-an-binh", "password": PASSWORD}).json()["access_token"]
        answer = httpx.post(f"{server.url}/api/v1/bulletins/{drop}/cancel", json={"reason": "Hoãn họp"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert answer.status_code == 200, answer.text
        assert datetime.now(LOCAL_ZONE) < starts_at, "the recall came too late for this test"

        row = wait_delivery(db, airing, cluster.id, {"played", "failed", "missed", "cancelled"},
                            timeout=SESSION_IN_S + 20)
        assert row.state is DeliveryState.PLAYED, row.error
        orders = orders_of(db, airing, cluster.id)
        [replacement] = [o for o in orders if o.kind == "play" and o.order_id != first.order_id]
        assert [o.kind for o in orders] == ["play", "stop", "play"]  # the stop withdraws the first, not its successor
        assert row.order_id == replacement.order_id
        assert row.audio_sha256 == replacement.audio_sha256 != first.audio_sha256
        # What sounded is the replacement: the null player started its order, never the first one.
        started = [e["label"] for e in agent.played() if e["event"] == "start"]
        assert started == [replacement.order_id]
        with db.session() as s:
            kept = list(s.scalars(select(AiringItem.bulletin_id).where(AiringItem.airing_id == airing)))
        assert kept == [keep]
    finally:
        agent.terminate()
        server.stop()
        db.dispose()
