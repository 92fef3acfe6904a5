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
from sqlalchemy import event, select

from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.delivery.agent_auth import agent_signing_key, sign_agent_request
from broadcaster.delivery.orders import AgentReport
from broadcaster.models import AgentReportRecord, Cluster, DeliveryState
from broadcaster.services import agent_reports
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
    try:  # a set-up that fails stops the server
        login = httpx.post(f"{server.url}/api/v1/auth/token",
                           json={"username": "admin-xa-an-binh", "password": PASSWORD})
        yield World(server, db, seed, login.json()["access_token"])
    finally:
        server.stop()


def post(world: World, path: str, payload: Any, *, cluster: Cluster, secret: str | None = None,
         timestamp: float | None = None, header_cluster: str | None = None) -> httpx.Response:
    """POST a body signed as the cluster's agent would (or with a wrong secret, time or cluster)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    key = agent_signing_key(secret or world.seed.secrets[cluster.id])
    headers = sign_agent_request(key, header_cluster or str(cluster.id), path, body,
                                 timestamp_ms=int((timestamp or time.time()) * 1000))
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
        "another cluster's header": {"header_cluster": str(victim.id), "secret": world.seed.secrets[other.id]},
        "unknown cluster": {"header_cluster": "999"},
        "stale time": {"timestamp": time.time() - 3600},
    }[forgery]
    answer = post(world, "heartbeat", heartbeat(victim, volume=1), cluster=victim, **options)
    assert answer.status_code == 401
    # A clock too far off gets its own code, and the answer carries the server's time to correct it.
    expected = "agent_clock_skew" if forgery == "stale time" else "agent_unauthenticated"
    assert answer.json()["error"]["code"] == expected
    assert abs(float(answer.headers["X-Broadcaster-Time-Sent"]) - time.time()) < 60
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
    assert first.json() == {"accepted": 4, "duplicates": 0, "rejected": 0}
    row = delivery(world.db, airing, cluster.id)
    assert row is not None and row.state is DeliveryState.PLAYED
    assert row.played_at == started and row.downloaded_at is not None
    # The agent's answer was lost: it sends the same batch again; nothing changes twice.
    again = post(world, "reports", batch, cluster=cluster)
    assert again.json() == {"accepted": 0, "duplicates": 4, "rejected": 0}
    with world.db.session() as s:
        assert len(s.scalars(select(AgentReportRecord).where(AgentReportRecord.order_id == order_id)).all()) == 4


def test_a_batch_sent_twice_at_once_is_stored_once_without_an_error(world: World) -> None:
    # An agent whose first POST timed out on a busy server sends the batch again while the first
    # request is still running: the other request stores the report between our check and our commit.
    cluster = world.cluster(1)
    batch = [report(cluster, 30, "received", str(uuid.uuid4()))]
    body = json.dumps(batch).encode()
    headers = sign_agent_request(agent_signing_key(world.seed.secrets[cluster.id]), str(cluster.id), "reports", body,
                                 timestamp_ms=int(time.time() * 1000))

    def the_other_request_commits_first(session: Any, *_: Any) -> None:
        with world.db.session() as other:
            agent_reports.record_reports(other, other.get_one(Cluster, cluster.id),
                                         [AgentReport.model_validate(batch[0])])
            other.commit()

    with world.db.session() as s:
        event.listen(s, "before_flush", the_other_request_commits_first, once=True)
        receipt = agent_reports.receive_reports(s, body, headers, now=time.time())
    assert (receipt.accepted, receipt.duplicates) == (0, 1)
    with world.db.session() as s:
        assert s.get(AgentReportRecord, batch[0]["report_id"]) is not None


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


@pytest.mark.parametrize("payload", ["not a list", "NESTED", "TOO_MANY"])
def test_malformed_report_batches_are_refused(world: World, payload: Any) -> None:
    cluster = world.cluster(0)
    if payload == "NESTED":
        payload = b"[" * 100_000 + b"]" * 100_000  # a recursive parser would blow its stack
    elif payload == "TOO_MANY":
        payload = [{}] * 501
    answer = post(world, "reports", payload, cluster=cluster)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "agent_payload_invalid"


def test_bad_reports_are_rejected_alone_and_the_rest_of_the_batch_is_kept(world: World) -> None:
    # A batch refused whole would come back for ever and block every later report of the agent.
    cluster = world.cluster(0)
    good = report(cluster, 20, "received", str(uuid.uuid4()))
    bad = [{"stage": "played"}, report(world.cluster(1), 21, "received", str(uuid.uuid4())),
           report(cluster, 22, "failed", str(uuid.uuid4()), message="x" * 5000),
           report(cluster, 23, "failed", str(uuid.uuid4()), reason="không phải mã"),
           report(cluster, 24, "played", str(uuid.uuid4()), order_seq=2**40),
           report(cluster, 25, "played", str(uuid.uuid4()), start_offset_ms=1e300)]
    answer = post(world, "reports", [*bad, good], cluster=cluster)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1, "duplicates": 0, "rejected": len(bad)}
    with world.db.session() as s:
        kept = s.scalars(select(AgentReportRecord.report_id).where(AgentReportRecord.cluster_id == cluster.id)).all()
    assert good["report_id"] in kept and not {r.get("report_id") for r in bad} & set(kept)


def test_a_replayed_heartbeat_is_refused(world: World) -> None:
    cluster = world.cluster(0)
    body = json.dumps(heartbeat(cluster, volume=42)).encode()
    headers = sign_agent_request(agent_signing_key(world.seed.secrets[cluster.id]), str(cluster.id), "heartbeat",
                                 body, timestamp_ms=int(time.time() * 1000))
    headers["Content-Type"] = "application/json"
    url = f"{world.server.url}/api/agent/heartbeat"
    assert httpx.post(url, content=body, headers=headers, timeout=10).status_code == 200
    replayed = httpx.post(url, content=body, headers=headers, timeout=10)
    assert replayed.status_code == 401
    assert replayed.json()["error"]["code"] == "agent_request_replayed"


@pytest.mark.parametrize("field", ["last_seq", "queue_length", "version", "clock"])
def test_out_of_bounds_heartbeats_are_refused_and_change_nothing(world: World, field: str) -> None:
    cluster = world.cluster(0)
    value = {"last_seq": 2**62, "queue_length": -1, "version": "v" * 500,
             "clock": {"offset_ms": float("1e300"), "rtt_ms": 1, "samples": 1}}[field]
    answer = post(world, "heartbeat", heartbeat(cluster, **{field: value}), cluster=cluster)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "agent_payload_invalid"
    with world.db.session() as s:
        assert s.get_one(Cluster, cluster.id).order_seq < 2**31


def test_a_heartbeat_cannot_push_the_order_counter_far_ahead(world: World) -> None:
    cluster = world.cluster(0)
    with world.db.session() as s:
        before = s.get_one(Cluster, cluster.id).order_seq
    answer = post(world, "heartbeat", heartbeat(cluster, last_seq=2**31 - 1), cluster=cluster)
    assert answer.status_code == 200  # in bounds, so recorded, but not believed
    with world.db.session() as s:
        row = s.get_one(Cluster, cluster.id)
        assert row.order_seq == before and row.last_status["seq_implausible"] == 2**31 - 1
    # A restored backup is the legitimate case: a small lead is caught up.
    assert post(world, "heartbeat", heartbeat(cluster, last_seq=before + 7), cluster=cluster).status_code == 200
    with world.db.session() as s:
        assert s.get_one(Cluster, cluster.id).order_seq == before + 7


def test_public_key_is_published_without_a_token(world: World) -> None:
    answer = httpx.get(f"{world.server.url}/api/agent/public-key", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["key_id"] == world.server.runtime.delivery.signer.key_id
    assert "PRIVATE" not in json.dumps(body)
