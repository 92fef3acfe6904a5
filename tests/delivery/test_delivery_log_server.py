"""The broadcast log's Delivery state machine (server side), on a real SQLite database.

Two sessions stand for the two writers that race in production: the lanes recording what the
transport saw, and the API recording an agent's report.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.models import Delivery, DeliveryState
from broadcaster.services.delivery_log import advance, sources
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
])
def test_sources(target: DeliveryState, from_agent: bool, expected: set[DeliveryState]) -> None:
    assert sources(target, from_agent=from_agent) == expected
