"""The ``mqtt`` transport with a real Mosquitto and real agent processes.

The broker runs with the password and ACL files ``broadcaster broker files`` writes, plus one
admin user allowed everything (what an attacker holding the broker's admin password has). What
aired is read from the agents' own play logs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.delivery.agent_auth import broker_password
from broadcaster.delivery.keys import load_or_create_signing_key
from broadcaster.delivery.mosquitto import password_hash
from broadcaster.delivery.mqtt_topics import orders_topic, status_topic
from broadcaster.delivery.orders import OrderSigner, PlayOrder, canonical_bytes
from broadcaster.models import Cluster, DeliveryOrder, DeliveryState
from broadcaster.services.broker_files import write_broker_files
from broadcaster.speech import RenderedAudio
from tests.agent.harness import AgentProcess, free_port, wait_for
from tests.e2e.harness import (
    InProcessServer,
    Seed,
    add_airing,
    agent_for,
    delivery_settings,
    orders_of,
    programme,
    seed_commune,
    wait_delivery,
)
from tests.fakes.mosquitto import Mosquitto

FINAL = {"played", "failed", "missed", "cancelled"}
ADMIN, ADMIN_PASSWORD = "quan-tri-broker", "mat-khau-quan-tri"
KEEPALIVE_S = 5


@dataclass
class World:
    """Mosquitto, the app on the mqtt transport, a commune of six clusters, a short programme."""

    root: Path
    broker: Mosquitto
    server: InProcessServer
    db: Database
    seed: Seed
    short: RenderedAudio

    def agent(self, index: int) -> AgentProcess:
        """An agent process (not started) for the index-th cluster, subscribed at the broker."""
        cluster = self.seed.clusters[index]
        return agent_for(self.root, cluster, self.seed, self.server.settings,
                         mqtt={"url": self.broker.url, "username": f"cluster-{cluster.id}", "keepalive_s": KEEPALIVE_S})

    def airing(self) -> int:
        """A fresh airing of the commune."""
        return add_airing(self.db, self.seed.commune_id, datetime.now(LOCAL_ZONE))

    def link(self, index: int) -> str | None:
        """The cluster's link state as the server recorded it from the broker's presence."""
        with self.db.session() as s:
            return s.get_one(Cluster, self.seed.clusters[index].id).link_state


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Broker and server up; agents are started by each test."""
    root: Path = tmp_path_factory.mktemp("mqtt")
    broker = Mosquitto(root / "broker", free_port())
    (root / "server-mqtt-password").write_text("mat-khau-may-chu\n")
    port = free_port()
    settings = delivery_settings(root, port, mqtt_url=broker.url, mqtt_password_file=root / "server-mqtt-password",
                                 mqtt_keepalive_s=KEEPALIVE_S)
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 6, transport="mqtt")
    with db.session() as s:
        assert write_broker_files(s, settings, broker.passwd, broker.acl) == 6
    with broker.passwd.open("a") as passwd, broker.acl.open("a") as acl:
        passwd.write(f"{ADMIN}:{password_hash(ADMIN_PASSWORD)}\n")
        acl.write(f"\nuser {ADMIN}\ntopic readwrite #\n")
    with ExitStack() as started:  # a set-up that fails stops what it started
        broker.start()
        started.callback(broker.stop)
        server = InProcessServer(settings, port).start()
        started.callback(server.stop)
        yield World(root, broker, server, db, seed, server.runtime.speech.render_text("Thử loa."))


def starts(agent: AgentProcess, order_id: str | None) -> list[float]:
    """When the agent's null player started ``order_id``."""
    return agent.true_starts(order_id or "")


def test_orders_go_through_the_broker_and_presence_follows_the_box(world: World) -> None:
    agent = world.agent(0).start()
    try:
        wait_for(lambda: world.link(0) == "connected", 15, "the server to see the agent online")
        airing = world.airing()
        # Valid for an hour: the forgery test replays this genuine envelope, however slow the machine.
        world.server.runtime.handoff.hand_off(programme(airing, world.seed.clusters[0].id, world.short, play_in=2,
                                                        expires_in=3600))
        row = wait_delivery(world.db, airing, world.seed.clusters[0].id, FINAL)
        assert row.state is DeliveryState.PLAYED, row.error
        assert len(starts(agent, row.order_id)) == 1
    finally:
        agent.kill()  # a power cut: no goodbye, the broker publishes the last will
    wait_for(lambda: world.link(0) == "disconnected", KEEPALIVE_S * 1.5 + 10, "the last will to mark it offline")


def test_an_offline_box_gets_its_queued_orders_and_refuses_the_expired_one(world: World) -> None:
    early, late = world.seed.clusters[1], world.seed.clusters[2]
    first = [world.agent(1).start(), world.agent(2).start()]  # their sessions and subscriptions exist now
    wait_for(lambda: world.link(1) == world.link(2) == "connected", 15, "both agents online")
    for agent in first:
        agent.terminate()
    wait_for(lambda: world.link(1) == world.link(2) == "disconnected", 15, "both agents offline")
    handoff = world.server.runtime.handoff
    kept, lost = world.airing(), world.airing()
    handoff.hand_off(programme(kept, early.id, world.short, play_in=1, expires_in=60))
    handoff.hand_off(programme(lost, late.id, world.short, play_in=0.2, expires_in=4.0))
    for airing, cluster in ((kept, early), (lost, late)):  # the broker took both for the offline boxes
        wait_for(lambda a=airing, c=cluster: orders_of(world.db, a, c.id)[0].status.value == "accepted", 10,
                 "the broker to take the order")
    wait_for(lambda: datetime.now(LOCAL_ZONE) > orders_of(world.db, lost, late.id)[0].expires_at, 10, "expiry")
    agents = [world.agent(1).start(), world.agent(2).start()]
    try:
        played = wait_delivery(world.db, kept, early.id, FINAL)
        assert played.state is DeliveryState.PLAYED, played.error
        assert len(starts(agents[0], played.order_id)) == 1
        missed = wait_delivery(world.db, lost, late.id, FINAL)
        assert missed.state is DeliveryState.MISSED and "[order_expired]" in (missed.error or "")
        assert agents[1].played() == []
    finally:
        for agent in agents:
            agent.terminate()


def test_mosquitto_killed_and_restarted_mid_delivery_loses_nothing(world: World) -> None:
    clusters = world.seed.clusters[3:5]
    agents = [world.agent(3).start(), world.agent(4).start()]
    try:
        wait_for(lambda: world.link(3) == world.link(4) == "connected", 15, "both agents online")
        world.broker.kill()
        airing = world.airing()
        assert world.server.runtime.handoff.hand_off_many(
            [programme(airing, c.id, world.short, play_in=4, expires_in=60) for c in clusters]) == {}
        world.broker.start()  # same port, same persistence directory
        for agent, cluster in zip(agents, clusters, strict=True):
            row = wait_delivery(world.db, airing, cluster.id, FINAL, timeout=45)
            assert row.state is DeliveryState.PLAYED, row.error
            assert len(starts(agent, row.order_id)) == 1
    finally:
        for agent in agents:
            agent.terminate()


def test_the_acl_keeps_each_cluster_to_its_own_topics(world: World) -> None:
    a, b = world.seed.clusters[0], world.seed.clusters[5]
    prefix = world.server.settings.mqtt_topic_prefix
    received: list[bytes] = []

    async def as_cluster_a() -> None:
        async with aiomqtt.Client("127.0.0.1", world.broker.port, username=f"cluster-{a.id}",
                                  password=broker_password(world.seed.secrets[a.id]), identifier="thu-acl") as client:
            await client.subscribe(orders_topic(prefix, str(b.id)), qos=1)  # not its topic
            await client.publish(status_topic(prefix, str(b.id)), b'{"state": "online"}', qos=1, retain=True)
            airing = world.airing()
            world.server.runtime.handoff.hand_off(programme(airing, b.id, world.short, play_in=30))
            wait_for(lambda: orders_of(world.db, airing, b.id)[0].status.value == "accepted", 10, "the publish")
            try:
                async with asyncio.timeout(2):
                    async for message in client.messages:
                        received.append(bytes(message.payload or b""))
            except TimeoutError:
                pass

    asyncio.run(as_cluster_a())
    assert received == []  # A never saw B's order
    assert world.link(5) != "connected"  # nor could it say B is online
    with pytest.raises(aiomqtt.MqttError):  # and a wrong password does not get in at all
        asyncio.run(_connect(world.broker.port, f"cluster-{a.id}", "doan-mo"))


async def _connect(port: int, username: str, password: str) -> None:
    async with aiomqtt.Client("127.0.0.1", port, username=username, password=password):
        pass


def test_a_publisher_with_admin_credentials_still_cannot_make_anything_play(world: World) -> None:
    cluster = world.seed.clusters[0]
    agent = world.agent(0).start()
    try:
        wait_for(lambda: world.link(0) == "connected", 15, "the agent online")
        with world.db.session() as s:
            old = s.scalars(select(DeliveryOrder).where(DeliveryOrder.cluster_id == cluster.id)
                            .order_by(DeliveryOrder.seq)).first()
        assert old is not None  # it played in the first test: its envelope is a genuine, used one
        signer = OrderSigner(load_or_create_signing_key(world.server.settings.data_dir))
        now = datetime.now(LOCAL_ZONE)
        fresh = json.loads(old.envelope)["order"] | {"order_id": str(uuid.uuid4()), "seq": 10**6,
                                                     "play_at": (now + timedelta(seconds=1)).isoformat()}
        forged = {"order": fresh, "signature": base64.b64encode(
            Ed25519PrivateKey.generate().sign(canonical_bytes(fresh))).decode()}
        expired = signer.sign(PlayOrder.model_validate(fresh | {
            "order_id": str(uuid.uuid4()), "play_at": (now - timedelta(minutes=5)).isoformat(),
            "expires_at": (now - timedelta(minutes=4)).isoformat()}))
        unsigned = {"order": fresh}
        before, log_before = len(agent.played()), len(agent.log_text())

        async def publish_all() -> None:
            async with aiomqtt.Client("127.0.0.1", world.broker.port, username=ADMIN, password=ADMIN_PASSWORD) as c:
                for payload in (json.dumps(unsigned), json.dumps(forged), old.envelope, json.dumps(expired),
                                "[" * 50_000):
                    await c.publish(orders_topic(world.server.settings.mqtt_topic_prefix, str(cluster.id)),
                                    payload.encode(), qos=1)

        asyncio.run(publish_all())
        for code in ("order_malformed", "order_bad_signature", "order_replayed", "order_expired", "nested too deeply"):
            wait_for(lambda c=code: c in agent.log_text()[log_before:], 15, f"the agent to refuse with {code}")
        assert len(agent.played()) == before and agent.alive()
    finally:
        agent.terminate()


def test_presence_is_followed_again_after_the_broker_restarts(world: World) -> None:
    # The server's subscription to the retained statuses lives in its broker session: a restarted
    # broker has none, so the server must subscribe again on every (re)connect.
    agent = world.agent(2).start()
    wait_for(lambda: world.link(2) == "connected", 15, "the agent online")
    agent.terminate()  # a clean goodbye: offline
    wait_for(lambda: world.link(2) == "disconnected", 15, "the agent offline")
    world.broker.kill()
    world.broker.start()  # same port, same persistence directory
    agent = world.agent(2).start()
    try:  # online after the restart: seen only through a subscription made after the reconnect
        wait_for(lambda: world.link(2) == "connected", 45, "the server to see the agent online after the restart")
    finally:
        agent.kill()  # and its last will, published by the restarted broker
    wait_for(lambda: world.link(2) == "disconnected", KEEPALIVE_S * 1.5 + 10, "the last will after the restart")
