"""A burst of emergencies at the same moment, through the real app with real delivery (signed orders, the outbox).

Forty approvers approve forty emergencies at once, as many as the API has worker threads. Before,
every request thread put its emergency on the air at the same moment; on a busy server SQLite's
connection pool (5 + 10) ran dry, threads waited 30 s for a connection, hand-offs were retried
cluster by cluster against the same empty pool and half the answers were 503 after 30 s or more.
Now the airings queue, ``AIRING_AT_ONCE`` at a time: each answer is 200, or at worst a coded 503
``database_busy`` with a Vietnamese message and a Retry-After (never a 500, never the pool running
dry), and every emergency is on the air exactly once at every cluster it targets.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from broadcaster.delivery.orders import OrderKind
from broadcaster.models import (
    Airing,
    AiringItem,
    AiringKind,
    AiringStatus,
    BulletinStatus,
    DeliveryOrder,
    Priority,
)
from tests.api.world import World, looks_vietnamese

API = "/api/v1"
BURST = 40  # the API's worker threads (anyio's default limiter)


class InFlight:
    """Samples, until stopped, how many emergency airings are being put on the air (claimed, not finished)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            with self.world.db.session() as session:
                now = session.scalar(select(func.count()).select_from(Airing).where(
                    Airing.status == AiringStatus.PLANNED, Airing.composed_at.is_not(None))) or 0
            self.most = max(self.most, now)

    def stop(self) -> int:
        """Stop sampling; the most seen at once (a sample may miss a peak, never invent one)."""
        self._stop.set()
        self._thread.join()
        return self.most


def test_a_burst_of_emergencies_queues_and_each_airs_exactly_once(
        delivering_world: World, caplog: pytest.LogCaptureFixture) -> None:
    world = delivering_world
    communes = [("A", "B")[number % 2] for number in range(BURST)]
    bulletins = [world.bulletin(commune, BulletinStatus.SUBMITTED, priority=Priority.EMERGENCY,
                                title=f"Khẩn số {number}", text=f"Khẩn cấp số {number}: nước lũ lên nhanh, di dời ngay.")
                 for number, commune in enumerate(communes)]  # fmt: skip

    def approve(number: int) -> httpx.Response:
        return world.client.post(f"{API}/bulletins/{bulletins[number]}/approve",
                                 headers=world.headers("approver", communes[number]))

    in_flight = InFlight(world)
    with caplog.at_level(logging.WARNING), ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(approve, range(BURST)))
    assert in_flight.stop() <= 4  # AIRING_AT_ONCE (docs/architecture.md): the others waited, holding no connection
    for answer in answers:
        assert answer.status_code in (200, 503), answer.text
        if answer.status_code == 503:  # accepted with the approval; the retry below puts it on the air
            error = answer.json()["error"]
            assert error["code"] == "database_busy" and looks_vietnamese(error["message"]), answer.text
            assert answer.headers.get("retry-after"), answer.headers
    assert not [r for r in caplog.records if "QueuePool limit" in r.getMessage()]  # the pool never ran dry
    emergencies = world.runtime.programming.emergencies
    with world.db.session() as session:
        airings = {bulletin_id: airing_id for airing_id, bulletin_id in session.execute(
            select(Airing.id, AiringItem.bulletin_id).join(AiringItem, AiringItem.airing_id == Airing.id)
            .where(Airing.kind == AiringKind.EMERGENCY).distinct())}  # fmt: skip
    assert sorted(airings) == sorted(bulletins)  # each approval committed its emergency's intent
    for airing_id in airings.values():  # what the scheduler's resume does for one whose answer was 503
        emergencies.resume(airing_id)
        emergencies.resume(airing_id)  # and again: nothing goes out twice
    with world.db.session() as session:
        statuses = set(session.scalars(select(Airing.status).where(Airing.id.in_(list(airings.values())))))
        plays = session.execute(
            select(DeliveryOrder.airing_id, DeliveryOrder.cluster_id, func.count())
            .where(DeliveryOrder.airing_id.in_(list(airings.values())), DeliveryOrder.kind == OrderKind.PLAY.value)
            .group_by(DeliveryOrder.airing_id, DeliveryOrder.cluster_id)).all()  # fmt: skip
    assert statuses == {AiringStatus.HANDED_OFF}
    expected = {(airings[b], world.communes[c].cluster_id) for b, c in zip(bulletins, communes, strict=True)}
    assert {(airing_id, cluster_id) for airing_id, cluster_id, _ in plays} == expected
    assert {count for *_, count in plays} == {1}  # one signed play order per airing and cluster
