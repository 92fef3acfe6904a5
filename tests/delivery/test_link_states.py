"""Presence written in batches: many boxes' link changes in one transaction, the newest per box winning.

A province's boxes reconnect together (after a broker restart, a power cut); one transaction per
presence message fell behind the broker, which then dropped the server's overflowing queue. The
batching is checked in-process (``LinkRecorder.flush`` called by the test, so nothing depends on
timing), and end to end with a real Mosquitto and a hundred real MQTT clients.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import event, func, select

from broadcaster.db import Database, utc_now
from broadcaster.delivery.agent_auth import broker_password
from broadcaster.delivery.mqtt_topics import OFFLINE, ONLINE, status_topic
from broadcaster.models import Cluster
from broadcaster.services.broker_files import write_broker_files
from broadcaster.services.delivery import DeliveryService
from tests.agent.harness import free_port, wait_for
from tests.e2e.harness import Seed, delivery_settings, seed_commune
from tests.fakes.mosquitto import Mosquitto

BOXES = 100


def links(db: Database) -> dict[int, str | None]:
    """Every cluster's stored link state."""
    with db.session() as s:
        return dict(s.execute(select(Cluster.id, Cluster.link_state)).all())  # type: ignore[arg-type]


@pytest.fixture
def delivery(tmp_path: Path) -> Iterator[tuple[DeliveryService, Database, Seed]]:
    """A delivery service (not started: the test flushes) over a commune of ``BOXES`` pull clusters."""
    settings = delivery_settings(tmp_path, free_port())
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, BOXES, transport="pull")
    service = DeliveryService(settings, db, None)
    yield service, db, seed
    service.close()
    db.dispose()


def test_the_links_of_many_boxes_are_written_in_one_transaction(
    delivery: tuple[DeliveryService, Database, Seed],
) -> None:
    service, db, seed = delivery
    for cluster in seed.clusters:
        service.link_changed(str(cluster.id), True)
    assert service.links.pending == BOXES and set(links(db).values()) == {None}  # nothing written per message
    commits: list[int] = []
    event.listen(db.engine, "commit", lambda _connection: commits.append(1))

    assert service.links.flush() == BOXES

    # The batch, and the look for orders the boxes never confirmed: two transactions, not a hundred.
    assert len(commits) <= 2
    assert set(links(db).values()) == {"connected"}
    assert service.links.pending == 0 and service.links.flush() == 0


def test_the_newest_change_of_a_box_wins_within_a_batch(delivery: tuple[DeliveryService, Database, Seed]) -> None:
    service, db, seed = delivery
    flapping, steady = seed.clusters[0].id, seed.clusters[1].id
    service.link_changed(str(flapping), True)
    service.link_changed(str(steady), True)
    service.link_changed(str(flapping), False)
    service.link_changed("not-a-cluster", True)  # a topic that names no cluster is ignored
    service.link_changed("999999", True)  # a cluster deleted meanwhile: nothing to write

    assert service.links.flush() == 3

    stored = links(db)
    assert stored[flapping] == "disconnected" and stored[steady] == "connected"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Cluster).where(Cluster.id == 999999)) == 0
        changed_at = s.get_one(Cluster, flapping).link_changed_at
    assert changed_at is not None and abs(changed_at - utc_now()) < timedelta(minutes=5)


def test_a_hundred_boxes_online_at_once_through_mosquitto_are_all_seen_and_their_wills_too(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", free_port())
    (tmp_path / "server-mqtt-password").write_text("mat-khau-may-chu\n")
    settings = delivery_settings(tmp_path, free_port(), mqtt_url=broker.url,
                                 mqtt_password_file=tmp_path / "server-mqtt-password")
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, BOXES, transport="mqtt")
    with db.session() as s:
        assert write_broker_files(s, settings, broker.passwd, broker.acl) == BOXES
    broker.start()
    service = DeliveryService(settings, db, None)
    service.start()
    boxes = BoxCrowd(broker.port, settings.mqtt_topic_prefix, seed)
    try:
        boxes.start()
        wait_for(lambda: set(links(db).values()) == {"connected"}, 120, "the server to see every box online")
        gone = [cluster.id for cluster in seed.clusters[: BOXES // 2]]
        boxes.say_offline(gone)
        wait_for(lambda: sorted(cid for cid, state in links(db).items() if state == "disconnected") == gone, 120,
                 "the server to see half the boxes go")
    finally:
        boxes.stop()
        service.close()
        broker.stop()
        db.dispose()


class BoxCrowd:
    """``BOXES`` MQTT clients in one event loop (a thread), each a cluster with its own credentials."""

    def __init__(self, port: int, prefix: str, seed: Seed) -> None:
        self.port, self.prefix, self.seed = port, prefix, seed
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.clients: dict[int, aiomqtt.Client] = {}

    def start(self) -> None:
        """Connect every box and publish its retained online, all at once."""
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._connect_all(), self.loop).result(timeout=120)

    def say_offline(self, cluster_ids: list[int]) -> None:
        """These boxes shut down cleanly: a retained offline, then goodbye."""
        asyncio.run_coroutine_threadsafe(self._leave(cluster_ids), self.loop).result(timeout=120)

    def stop(self) -> None:
        """Disconnect the rest and end the loop."""
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._leave(list(self.clients)), self.loop).result(timeout=120)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)

    async def _connect_all(self) -> None:
        await asyncio.gather(*(self._connect(cluster.id) for cluster in self.seed.clusters))

    async def _connect(self, cluster_id: int) -> None:
        topic = status_topic(self.prefix, str(cluster_id))
        client = aiomqtt.Client("127.0.0.1", self.port, username=f"cluster-{cluster_id}",
                                password=broker_password(self.seed.secrets[cluster_id]),
                                identifier=f"cluster-{cluster_id}", will=aiomqtt.Will(topic, OFFLINE, qos=1, retain=True))
        await client.__aenter__()
        self.clients[cluster_id] = client
        await client.publish(topic, ONLINE, qos=1, retain=True)

    async def _leave(self, cluster_ids: list[int]) -> None:
        async def leave(cluster_id: int) -> None:
            client = self.clients.pop(cluster_id)
            await client.publish(status_topic(self.prefix, str(cluster_id)), OFFLINE, qos=1, retain=True)
            await client.__aexit__(None, None, None)

        await asyncio.gather(*(leave(cluster_id) for cluster_id in cluster_ids if cluster_id in self.clients))
