"""``broadcaster serve`` killed with SIGKILL in the middle of a delivery (pull, and mqtt with a real
Mosquitto), then started again.

An emergency is approved through the API: one agent is connected and takes its order at once; the
other box is off. The server is killed, the second box comes up meanwhile (it keeps dialling with
backoff), the server restarts and resumes its outbox. Counted at the agents: each played once.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from broadcaster.db import Database
from broadcaster.models import Cluster, DeliveryOrder, OrderStatus
from broadcaster.services.broker_files import write_broker_files
from tests.agent.harness import free_port, wait_for
from tests.e2e.harness import PASSWORD, ServerProcess, agent_for, delivery_settings, orders_of, seed_commune
from tests.fakes.mosquitto import Mosquitto


def _login(server: ServerProcess, username: str) -> dict[str, str]:
    answer = httpx.post(f"{server.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD},
                        timeout=30)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.mark.parametrize("transport", ["pull", "mqtt"])
def test_server_sigkill_mid_delivery_loses_nothing_and_airs_nothing_twice(tmp_path: Path, transport: str) -> None:
    port = free_port()
    broker = Mosquitto(tmp_path / "broker", free_port()) if transport == "mqtt" else None
    options: dict[str, object] = {}
    if broker is not None:
        (tmp_path / "server-mqtt-password").write_text("mat-khau-may-chu\n")
        options = {"mqtt_url": broker.url, "mqtt_password_file": str(tmp_path / "server-mqtt-password"),
                   "mqtt_keepalive_s": 5}
    settings = delivery_settings(tmp_path, port, prompt_delay_s=4.0, **options)
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 2, users=True, transport=transport)
    online, offline = seed.clusters
    agent_options: list[dict[str, object]] = [{}, {}]
    if broker is not None:
        with db.session() as s:
            write_broker_files(s, settings, broker.passwd, broker.acl)
        broker.start()
        agent_options = [{"mqtt": {"url": broker.url, "username": f"cluster-{c.id}", "keepalive_s": 5}}
                         for c in seed.clusters]
    server = ServerProcess(settings, port, tmp_path).start()
    first = agent_for(tmp_path, online, seed, settings, **agent_options[0]).start()
    second = agent_for(tmp_path, offline, seed, settings, **agent_options[1])
    try:
        if broker is not None:
            # The second box subscribed once before (its persistent session exists), then went away.
            second.start()
            wait_for(lambda: _link(db, offline.id) == "connected", 15, "the second box online once")
            second.terminate()
            wait_for(lambda: _link(db, offline.id) == "disconnected", 15, "the second box offline")
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
        # pull: the offline box's order waits in the outbox; mqtt: the broker queues it for the box.
        expected = OrderStatus.ACCEPTED if broker is not None else OrderStatus.QUEUED
        wait_for(lambda: orders()[offline.id].status is expected, 15, "the offline box's order to be kept")
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
        if broker is not None:
            broker.stop()


def _link(db: Database, cluster_id: int) -> str | None:
    with db.session() as s:
        return s.get_one(Cluster, cluster_id).link_state
