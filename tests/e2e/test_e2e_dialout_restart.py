"""``broadcaster serve`` killed with SIGKILL in the middle of a pull delivery, then started again.

An emergency is approved through the API: one agent is connected and takes its order at once; the
other box is off. The server is killed, the second box comes up meanwhile (it keeps dialling with
backoff), the server restarts and resumes its outbox. Counted at the agents: each played once.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from broadcaster.db import Database
from broadcaster.models import DeliveryOrder, OrderStatus
from tests.agent.harness import free_port, wait_for
from tests.e2e.harness import PASSWORD, ServerProcess, agent_for, delivery_settings, orders_of, seed_commune


def _login(server: ServerProcess, username: str) -> dict[str, str]:
    answer = httpx.post(f"{server.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD},
                        timeout=30)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_server_sigkill_mid_delivery_loses_nothing_and_airs_nothing_twice(tmp_path: Path) -> None:
    port = free_port()
    settings = delivery_settings(tmp_path, port, prompt_delay_s=4.0)
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 2, users=True, transport="pull")
    online, offline = seed.clusters
    server = ServerProcess(settings, port, tmp_path).start()
    first = agent_for(tmp_path, online, seed, settings).start()
    second = agent_for(tmp_path, offline, seed, settings)
    try:
        officer, approver = _login(server, "officer-xa-an-binh"), _login(server, "approver-xa-an-binh")
        created = httpx.post(f"{server.url}/api/v1/bulletins", headers=officer, timeout=30, json={
            "title": "Khẩn: lũ", "priority": "emergency", "text": "Khẩn: nước lũ lên nhanh, di dời ngay."})
        bulletin = created.json()["id"]
        assert httpx.post(f"{server.url}/api/v1/bulletins/{bulletin}/submit", headers=officer,
                          timeout=30).status_code == 200
        assert httpx.post(f"{server.url}/api/v1/bulletins/{bulletin}/approve", headers=approver,
                          timeout=60).status_code == 200

        def orders() -> dict[int, DeliveryOrder]:
            with db.session() as s:
                rows = s.scalars(select(DeliveryOrder).where(DeliveryOrder.cluster_id.in_([online.id, offline.id])))
                return {row.cluster_id: row for row in rows}

        wait_for(lambda: (o := orders()).get(online.id) and o[online.id].status is OrderStatus.ACCEPTED, 15,
                 "the connected agent to take its order")
        assert orders()[offline.id].status is OrderStatus.QUEUED
        assert server.process is not None
        server.process.kill()  # SIGKILL: no shutdown, the lanes die with their retries
        server.process.wait(timeout=10)
        second.start()  # the box comes up while the server is down: it dials with backoff
        server.start()
        airing = orders()[offline.id].airing_id
        for agent, cluster in ((first, online), (second, offline)):
            [order] = orders_of(db, airing, cluster.id)
            wait_for(lambda a=agent, o=order: a.true_starts(o.order_id), 40, f"cluster {cluster.id} to play")
        for agent, cluster in ((first, online), (second, offline)):
            [order] = orders_of(db, airing, cluster.id)
            assert len(agent.true_starts(order.order_id)) == 1, agent.played()
            assert [e["label"] for e in agent.played() if e["event"] == "start"] == [order.order_id]
    finally:
        for agent in (first, second):
            if agent.alive():
                agent.terminate()
        server.stop()
