"""Two ``broadcaster serve`` replicas on one database: only the lease holder runs the delivery lanes, and
when it is SIGKILLed at the moment that matters, the other takes over and every cluster airs exactly once.

The replicas share the database, the data directory (the signing key) and the audio cache (the
shared volume of docs/architecture.md, Deployment). The agents dial the surviving replica's
address (what a load balancer would give them after the leader died); while it stands by, it
answers their polls ``503 delivery_not_here`` and they retry with backoff. An emergency approved
on the leader makes it kill itself right after the orders committed (``handed_off``: none sent
yet) or while they go out (``fan_out``). Counted at the agents' own play logs.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from broadcaster.db import Database
from broadcaster.delivery.orders import OrderKind
from broadcaster.models import DeliveryOrder
from broadcaster.scheduler import Lease
from tests.agent.harness import free_port, wait_for
from tests.e2e.harness import PASSWORD, ServerProcess, agent_for, delivery_settings, seed_commune
from tests.scheduler.processes import lease_holder_pid

pytestmark = pytest.mark.slow
LEASE_TTL_S = 3.0


def _login(server: ServerProcess, username: str) -> dict[str, str]:
    answer = httpx.post(f"{server.url}/api/v1/auth/token", json={"username": username, "password": PASSWORD},
                        timeout=30)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _play_orders(db: Database, cluster_ids: list[int]) -> dict[int, list[str]]:
    with db.session() as s:
        rows = s.scalars(select(DeliveryOrder).where(DeliveryOrder.cluster_id.in_(cluster_ids),
                                                     DeliveryOrder.kind == OrderKind.PLAY.value))
        found: dict[int, list[str]] = {cluster_id: [] for cluster_id in cluster_ids}
        for row in rows:
            found[row.cluster_id].append(row.order_id)
        return found


@pytest.mark.parametrize("boundary", ["handed_off", "fan_out"])
def test_leader_sigkilled_while_delivering_the_standby_takes_over_and_each_cluster_airs_once(
    tmp_path: Path, boundary: str
) -> None:
    leader_port, standby_port = free_port(), free_port()
    # public_url is the address that survives (the load balancer's): audio URLs in the orders use it.
    settings = delivery_settings(tmp_path, standby_port, run_scheduler=True, prompt_delay_s=6.0,
                                 scheduler_lease_ttl_s=LEASE_TTL_S, scheduler_lease_renew_s=0.5)
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 3, users=True, transport="pull")
    (tmp_path / "leader").mkdir()
    (tmp_path / "standby").mkdir()
    leader = ServerProcess(settings, leader_port, tmp_path / "leader").start(env={"BROADCASTER_CRASH_AT": boundary})
    lease = Lease(db, LEASE_TTL_S)
    assert leader.process is not None and lease_holder_pid(lease) == leader.process.pid
    standby = ServerProcess(settings, standby_port, tmp_path / "standby").start()
    assert standby.process is not None
    agents = [agent_for(tmp_path, cluster, seed, settings).start() for cluster in seed.clusters]
    cluster_ids = [cluster.id for cluster in seed.clusters]
    try:
        officer, approver = _login(standby, "officer-xa-an-binh"), _login(standby, "approver-xa-an-binh")
        created = httpx.post(f"{standby.url}/api/v1/bulletins", headers=officer, timeout=30, json={
            "title": "Khẩn: lũ", "priority": "emergency", "text": "Khẩn: nước lũ lên nhanh, di dời ngay."})
        assert created.status_code == 201, created.text
        bulletin = created.json()["id"]
        assert httpx.post(f"{standby.url}/api/v1/bulletins/{bulletin}/submit", headers=officer,
                          timeout=30).status_code == 200
        # Approved on the leader: it renders, commits the orders and dies at the boundary.
        with contextlib.suppress(httpx.HTTPError):  # the answer may or may not leave before the kill
            httpx.post(f"{leader.url}/api/v1/bulletins/{bulletin}/approve", headers=approver, timeout=120)
        leader.process.wait(timeout=30)
        assert leader.process.returncode == -9, "the leader did not die at the crash point"
        issued = _play_orders(db, cluster_ids)
        assert all(len(ids) == 1 for ids in issued.values()), issued  # the orders were committed before the kill

        wait_for(lambda: lease_holder_pid(lease) == standby.process.pid, 30, "the standby to take the lease")
        for agent, cluster_id in zip(agents, cluster_ids, strict=True):
            [order_id] = issued[cluster_id]
            wait_for(lambda a=agent, o=order_id: a.true_starts(o), 60, f"cluster {cluster_id} to play")
        time.sleep(2.0)  # a second copy would be answered "duplicate" at once; give it the time to show
        for agent, cluster_id in zip(agents, cluster_ids, strict=True):
            [order_id] = issued[cluster_id]
            starts = [e["label"] for e in agent.played() if e["event"] == "start"]
            assert starts == [order_id], (cluster_id, agent.played())
        assert _play_orders(db, cluster_ids) == issued  # the new leader issued nothing new
        log = (tmp_path / "standby" / "server.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]
    finally:
        for agent in agents:
            if agent.alive():
                agent.terminate()
        standby.stop()
        if leader.process is not None and leader.process.poll() is None:
            leader.process.kill()
