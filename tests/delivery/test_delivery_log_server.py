"""The broadcast log's Delivery state machine (server side), on a real SQLite database.

Two sessions stand for the two writers that race in production: the lanes recording what the
transport saw, and the API recording an agent's report.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.models import AuditEvent, Delivery, DeliveryState
from broadcaster.services.delivery_log import advance, audit_delivery, failure_text, sources
from tests.databases import database_url
from tests.e2e.harness import add_airing, seed_commune

S = DeliveryState


@pytest.fixture
def row(tmp_path: Path) -> tuple[Database, int]:
    """A database with one pending delivery; its id."""
    db = Database(database_url(tmp_path))
    db.upgrade()
    seed = seed_commune(db, 1)
    airing = add_airing(db, seed.commune_id, datetime.now(LOCAL_ZONE))
    with db.session() as s:
        delivery = Delivery(airing_id=airing, cluster_id=seed.clusters[0].id, audio_sha256="0" * 64, audio_size=1,
                            duration_s=1.0, play_at=datetime.now(LOCAL_ZONE), expires_at=datetime.now(LOCAL_ZONE))
        s.add(delivery)
        s.flush()
        return db, delivery.id


def state_of(db: Database, delivery_id: int) -> tuple[DeliveryState, str | None]:
    """The row's state and error as stored."""
    with db.session() as s:
        delivery = s.get_one(Delivery, delivery_id)
        return delivery.state, delivery.error


def test_a_stale_writer_cannot_move_a_delivery_backwards(row: tuple[Database, int]) -> None:
    db, delivery_id = row
    with db.session() as lanes, db.session() as api:
        stale = lanes.get_one(Delivery, delivery_id)  # read while still pending
        assert advance(api, api.get_one(Delivery, delivery_id), S.RECEIVED, from_agent=True)
        api.commit()
        assert not advance(lanes, stale, S.SENT, from_agent=False)  # late news of the transport
    assert state_of(db, delivery_id) == (S.RECEIVED, None)


def test_the_agents_final_word_replaces_the_servers_guess_and_played_is_final(row: tuple[Database, int]) -> None:
    db, delivery_id = row
    with db.session() as s:
        delivery = s.get_one(Delivery, delivery_id)
        assert advance(s, delivery, S.MISSED, from_agent=False, error="[transport_unavailable] …")
        assert not advance(s, delivery, S.FAILED, from_agent=False, error="x")  # a guess does not replace a guess
        assert advance(s, delivery, S.PLAYED, from_agent=True)  # the answer was lost, the agent played it
        assert not advance(s, delivery, S.FAILED, from_agent=True, error="[preempted] …")
    assert state_of(db, delivery_id) == (S.PLAYED, None)


@pytest.mark.parametrize(("target", "from_agent", "expected"), [
    (S.SENT, False, {S.PENDING}),
    (S.DOWNLOADED, True, {S.PENDING, S.SENT, S.RECEIVED}),
    (S.MISSED, False, {S.PENDING, S.SENT, S.RECEIVED, S.DOWNLOADED}),
    (S.FAILED, True, set(S) - {S.PLAYED}),
    (S.PLAYED, True, set(S) - {S.PLAYED}),
    (S.RECEIVED, True, {S.PENDING, S.SENT}),
    (S.PLAYED, False, {S.PENDING, S.SENT, S.RECEIVED, S.DOWNLOADED}),
    (S.PENDING, False, set()),
])
def test_sources(target: DeliveryState, from_agent: bool, expected: set[DeliveryState]) -> None:
    assert sources(target, from_agent=from_agent) == expected


def test_a_server_guess_records_its_error_and_a_forward_move_keeps_none(row: tuple[Database, int]) -> None:
    db, delivery_id = row
    with db.session() as s:
        delivery = s.get_one(Delivery, delivery_id)
        assert advance(s, delivery, S.SENT, from_agent=False, error="ignored: not a final state")
        assert not advance(s, delivery, S.SENT, from_agent=False)  # not from itself
        assert (delivery.state, delivery.error) == (S.SENT, None)  # the object follows the row
        assert advance(s, delivery, S.FAILED, from_agent=False, error="[order_refused] …")
        assert (delivery.state, delivery.error) == (S.FAILED, "[order_refused] …")
        s.commit()
    assert state_of(db, delivery_id) == (S.FAILED, "[order_refused] …")


def test_a_new_delivery_moves_in_memory_by_the_same_rules(row: tuple[Database, int]) -> None:
    fresh = Delivery(state=S.PENDING)
    with row[0].session() as s:
        assert advance(s, fresh, S.MISSED, from_agent=False, error="[not_confirmed] …")
        assert (fresh.state, fresh.error) == (S.MISSED, "[not_confirmed] …")
        assert advance(s, fresh, S.CANCELLED, from_agent=False) is False  # a bool, as the signature says
        assert advance(s, fresh, S.PLAYED, from_agent=True) and fresh.state is S.PLAYED
        assert fresh.id is None  # nothing was written for it


@pytest.mark.parametrize(("code", "message", "text"), [
    ("preempted", "Bị ngắt", "[preempted] Bị ngắt"),
    (None, "Bị ngắt", "Bị ngắt"),
    ("preempted", None, "[preempted]"),
    (None, None, "lỗi không rõ"),
    ("", "", "lỗi không rõ"),
])
def test_failure_text(code: str | None, message: str | None, text: str) -> None:
    assert failure_text(code, message) == text


def test_delivery_audit_events_are_the_systems(row: tuple[Database, int]) -> None:
    db, delivery_id = row
    with db.session() as s:
        audit_delivery(s, s.get_one(Delivery, delivery_id), action="delivery_missed", commune_id=7,
                       details={"cluster": "thon-1"})
        audit_delivery(s, None, action="stop_not_delivered", commune_id=None, details={})
        s.commit()
    with db.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.object_type == "delivery").order_by(AuditEvent.id))
        assert [(e.actor_id, e.action, e.object_id, e.commune_id, e.details) for e in events] == [
            (None, "delivery_missed", delivery_id, 7, {"cluster": "thon-1"}),
            (None, "stop_not_delivered", None, None, {})]
