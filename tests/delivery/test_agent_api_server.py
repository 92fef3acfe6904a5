"""The agents' endpoints on the real app: HMAC authentication, report de-duplication, the broadcast
log's Delivery rows, heartbeats and presence in the clusters API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.delivery.keys import sign_agent_request
from broadcaster.models import AgentReportRecord, Cluster, DeliveryState
from tests.agent.harness import free_port, wait_for
from tests.e2e.harness import (
    PASSWORD,
    InProcessServer,
    Seed,
    add_airing,
    audit_actions,
    delivery,
    delivery_settings,
    orders_of,
    programme,
    seed_commune,
)


@dataclass
class World:
    """A running app, its database, a commune with two clusters whose agents are not running, a token."""

    server: InProcessServer
    db: Database
    seed: Seed
    token: str

    def cluster(self, index: int) -> Cluster:
        """The index-th cluster of the commune."""
        return self.seed.clusters[index]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The app with delivery on; orders to these clusters keep retrying, nobody answers."""
    root: Path = tmp_path_factory.mktemp("agent-api")
    port = free_port()
    settings = delivery_settings(root, port, delivery_retry_max_s=5.0)
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 2, users=True)
    server = InProcessServer(settings, port).start()
    login = httpx.post(f"{server.url}/api/v1/auth/token", json={"username": "admin-xa-an-binh", "password": PASSWORD})
    yield World(server, db, seed, login.json()["access_token"])
    server.stop()


def post(world: World, path: str, payload: Any, *, cluster: Cluster, secret: str | None = None,
         timestamp: float | None = None, header_cluster: str | None = None) -> httpx.Response:
    """POST a body signed as the cluster's agent would (or with a wrong secret, time or cluster)."""
    body = json.dumps(payload).encode()
    headers = sign_agent_request(secret or cluster.report_secret, header_cluster or str(cluster.id), body,
                                 timestamp=int(timestamp or time.time()))
    headers["Content-Type"] = "application/json"
    return httpx.post(f"{world.server.url}/api/agent/{path}", content=body, headers=headers, timeout=10)


def heartbeat(cluster: Cluster, **fields: Any) -> dict[str, Any]:
    """A heartbeat body."""
    return {"cluster_id": str(cluster.id), "at": datetime.now(LOCAL_ZONE).isoformat(), "status": "idle",
            "volume": 100, "version": "test", "now_playing": None, "queue_length": 0, "last_seq": 0,
            "reports_pending": 0} | fields


def report(cluster: Cluster, seq: int, stage: str, order_id: str, **fields: Any) -> dict[str, Any]:
    """A report body."""
    return {"report_id": str(uuid.uuid4()), "seq": seq, "cluster_id": str(cluster.id), "stage": stage,
            "at": datetime.now(LOCAL_ZONE).isoformat(), "order_id": order_id} | fields


def cluster_api(world: World, cluster: Cluster) -> dict[str, Any]:
    """GET /api/v1/clusters/{id} as the commune's admin."""
    response = httpx.get(f"{world.server.url}/api/v1/clusters/{cluster.id}",
                         headers={"Authorization": f"Bearer {world.token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_heartbeat_makes_the_cluster_online_with_its_status(world: World) -> None:
    cluster = world.cluster(0)
    assert cluster_api(world, cluster)["presence"]["online"] is False
    now_playing = {"order_id": str(uuid.uuid4()), "airing_id": "7", "priority": "normal",
                   "started_at": datetime.now(LOCAL_ZONE).isoformat()}
    answer = post(world, "heartbeat", heartbeat(cluster, status="playing", volume=80, now_playing=now_playing,
                                                last_seq=500), cluster=cluster)
    assert answer.status_code == 200, answer.text
    assert answer.json()["online"] is True
    presence = cluster_api(world, cluster)["presence"]
    assert (presence["online"], presence["status"], presence["volume"]) == (True, "playing", 80)
    assert presence["now_playing"]["airing_id"] == "7"
    with world.db.session() as s:
        # The agent holds seq 500: our next order to it must be newer.
        assert s.get_one(Cluster, cluster.id).order_seq >= 500
    # No heartbeat for 2.5 intervals (0.5 s each here): offline.
    wait_for(lambda: cluster_api(world, cluster)["presence"]["online"] is False, 10, "the cluster to go offline",
             interval=0.2)


@pytest.mark.parametrize("forgery", ["wrong secret", "another cluster's header", "unknown cluster", "stale time"])
def test_forged_agent_requests_are_refused(world: World, forgery: str) -> None:
    victim, other = world.cluster(1), world.cluster(0)
    options: dict[str, Any] = {
        "wrong secret": {"secret": "doan-mo-bi-mat"},
        "another cluster's header": {"header_cluster": str(victim.id), "secret": other.report_secret},
        "unknown cluster": {"header_cluster": "999"},
        "stale time": {"timestamp": time.time() - 3600},
    }[forgery]
    answer = post(world, "heartbeat", heartbeat(victim, volume=1), cluster=victim, **options)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "agent_unauthenticated"
    assert cluster_api(world, victim)["presence"]["volume"] is None  # nothing recorded


def test_reports_move_the_delivery_and_are_kept_once(world: World) -> None:
    cluster = world.cluster(1)
    audio = world.server.runtime.speech.render_text("Thông báo thử.")
    airing = add_airing(world.db, world.seed.commune_id, datetime.now(LOCAL_ZONE))
    world.server.runtime.handoff.hand_off(programme(airing, cluster.id, audio, play_in=60, expires_in=120))
    order_id = orders_of(world.db, airing, cluster.id)[0].order_id
    started = datetime.now(LOCAL_ZONE) + timedelta(milliseconds=3)
    batch = [report(cluster, 1, "received", order_id), report(cluster, 2, "downloaded", order_id),
             report(cluster, 3, "playing", order_id, started_at=started.isoformat()),
             report(cluster, 4, "played", order_id, started_at=started.isoformat(),
                    ended_at=(started + timedelta(seconds=2)).isoformat())]
    first = post(world, "reports", batch, cluster=cluster)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 4, "duplicates": 0}
    row = delivery(world.db, airing, cluster.id)
    assert row is not None and row.state is DeliveryState.PLAYED
    assert row.played_at == started and row.downloaded_at is not None
    # The agent's answer was lost: it sends the same batch again; nothing changes twice.
    again = post(world, "reports", batch, cluster=cluster)
    assert again.json() == {"accepted": 0, "duplicates": 4}
    with world.db.session() as s:
        assert len(s.scalars(select(AgentReportRecord).where(AgentReportRecord.order_id == order_id)).all()) == 4


def test_a_failure_report_is_logged_with_its_reason_and_audited(world: World) -> None:
    cluster = world.cluster(0)
    audio = world.server.runtime.speech.render_text("Thông báo thử lần hai.")
    airing = add_airing(world.db, world.seed.commune_id, datetime.now(LOCAL_ZONE))
    world.server.runtime.handoff.hand_off(programme(airing, cluster.id, audio, play_in=60, expires_in=120))
    order_id = orders_of(world.db, airing, cluster.id)[0].order_id
    failed = report(cluster, 10, "failed", order_id, reason="audio_checksum_mismatch",
                    message="Tệp âm thanh tải về không khớp mã kiểm tra sha256; đã hủy, không phát.")
    assert post(world, "reports", [failed], cluster=cluster).status_code == 200
    row = delivery(world.db, airing, cluster.id)
    assert row is not None and row.state is DeliveryState.FAILED
    assert row.error is not None and row.error.startswith("[audio_checksum_mismatch]")
    events = [e for e in audit_actions(world.db) if e.object_id == row.id]
    assert [e.action for e in events] == ["delivery_failed"]
    assert events[0].details["reason"] == "audio_checksum_mismatch"


@pytest.mark.parametrize("payload", [
    "not a list", [{"stage": "played"}], "WRONG_CLUSTER",
])
def test_malformed_report_batches_are_refused(world: World, payload: Any) -> None:
    cluster = world.cluster(0)
    if payload == "WRONG_CLUSTER":
        payload = [report(world.cluster(1), 1, "received", str(uuid.uuid4()))]
    answer = post(world, "reports", payload, cluster=cluster)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "agent_payload_invalid"


def test_public_key_is_published_without_a_token(world: World) -> None:
    answer = httpx.get(f"{world.server.url}/api/agent/public-key", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["key_id"] == world.server.runtime.delivery.signer.key_id
    assert "PRIVATE" not in json.dumps(body)
