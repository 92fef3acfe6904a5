"""Delivery through the real server (the app under uvicorn) to real agent processes, when things go wrong.

Programmes are handed off through the ``ProgrammeHandoff`` interface, as programming does; every
other part is real: signing, the outbox, the lanes, HTTP to the agents, the agents' reports.
An agent killed mid-download resumes its download: tests/agent/test_agent_resilience.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.models import AgentReportRecord, DeliveryState, OrderStatus, Priority
from broadcaster.services.broadcast_log import describe_plays
from broadcaster.speech import RenderedAudio
from tests.agent.harness import AgentProcess, free_port, wait_for
from tests.e2e.harness import (
    InProcessServer,
    Seed,
    add_airing,
    agent_for,
    audit_actions,
    delivery,
    delivery_settings,
    orders_of,
    programme,
    seed_commune,
    wait_delivery,
)

FINAL = {"played", "failed", "missed", "cancelled"}


@dataclass
class World:
    """The running app, its database, a commune of six clusters (no agent running yet), two programmes."""

    root: Path
    server: InProcessServer
    db: Database
    seed: Seed
    short: RenderedAudio
    long: RenderedAudio

    def agent(self, index: int) -> AgentProcess:
        """An agent process (not started) for the index-th cluster."""
        return agent_for(self.root, self.seed.clusters[index], self.seed, self.server.settings)

    def airing(self) -> int:
        """A fresh airing of the commune."""
        return add_airing(self.db, self.seed.commune_id, datetime.now(LOCAL_ZONE))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Server up; agents are started by each test."""
    root: Path = tmp_path_factory.mktemp("resilience")
    port = free_port()
    settings = delivery_settings(root, port)
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 7)
    server = InProcessServer(settings, port).start()
    try:  # a set-up that fails stops the server
        speech = server.runtime.speech
        short = speech.render_text("Thử loa.")
        long = speech.render_text("Thông báo thử nghiệm hệ thống loa phát thanh của xã.", repeat=3)
        yield World(root, server, db, seed, short, long)
    finally:
        server.stop()


def starts(agent: AgentProcess, order_id: str) -> list[dict[str, object]]:
    """What the agent's null player started for one order."""
    return [e for e in agent.played() if e["event"] == "start" and e["label"] == order_id]


def test_agent_down_during_delivery_plays_once_back_before_expiry(world: World) -> None:
    cluster = world.seed.clusters[0]
    agent = world.agent(0)
    airing = world.airing()
    same = programme(airing, cluster.id, world.short, play_in=4, expires_in=60)
    world.server.runtime.handoff.hand_off(same)
    world.server.runtime.handoff.hand_off(same)  # at-least-once: programming may hand off again
    wait_for(lambda: world.server.runtime.delivery.lanes.pending_count() == 1, 5, "the order to be queued")
    agent.start()  # meanwhile the server has been retrying
    try:
        row = wait_delivery(world.db, airing, cluster.id, FINAL)
        assert row.state is DeliveryState.PLAYED, row.error
        [order] = orders_of(world.db, airing, cluster.id)  # one order, however many hand-offs
        assert order.status is OrderStatus.ACCEPTED and order.attempts >= 2
        assert len(starts(agent, order.order_id)) == 1
    finally:
        agent.terminate()


def test_agent_back_after_expiry_is_reported_missed(world: World) -> None:
    cluster = world.seed.clusters[1]
    airing = world.airing()
    delivery_service = world.server.runtime.delivery
    world.server.runtime.handoff.hand_off(programme(airing, cluster.id, world.short, play_in=0.5, expires_in=1.0))
    holder = f"delivery:{airing}"
    assert holder in world.server.runtime.speech.cache.pinned()[world.short.path.stem]  # kept for the agent
    row = wait_delivery(world.db, airing, cluster.id, FINAL, timeout=15)
    assert row.state is DeliveryState.MISSED
    assert row.error is not None and "transport_unavailable" in row.error
    [order] = orders_of(world.db, airing, cluster.id)
    assert order.status is OrderStatus.EXPIRED
    assert any(e.action == "delivery_missed" and e.object_id == row.id for e in audit_actions(world.db))
    # The lane gives up as soon as its next retry would come too late; the pin lasts until expiry.
    wait_for(lambda: datetime.now(LOCAL_ZONE) > order.expires_at, 5, "the order to expire")
    delivery_service.housekeeping()  # what runs every minute: the expired airing's audio may go now
    assert holder not in world.server.runtime.speech.cache.pinned().get(world.short.path.stem, set())
    agent = world.agent(1).start()
    try:
        # Its heartbeats reach the server, yet the expired order is not sent any more: nothing plays.
        wait_for(lambda: (agent.status()["last_seq"] == 0 and world.server.runtime.delivery.lanes.pending_count() == 0),
                 10, "the agent to be up with nothing queued")
        assert agent.played() == []
    finally:
        agent.terminate()


def test_emergency_interrupts_a_normal_programme_within_two_seconds(world: World) -> None:
    cluster = world.seed.clusters[2]
    agent = world.agent(2).start()
    try:
        normal_airing, emergency_airing = world.airing(), world.airing()
        handoff = world.server.runtime.handoff
        handoff.hand_off(programme(normal_airing, cluster.id, world.long, play_in=2))
        wait_for(lambda: starts(agent, orders_of(world.db, normal_airing, cluster.id)[0].order_id), 20,
                 "the normal programme to start")
        emergency = programme(emergency_airing, cluster.id, world.short, play_in=1.5, priority=Priority.EMERGENCY)
        handoff.hand_off(emergency)
        normal_row = wait_delivery(world.db, normal_airing, cluster.id, FINAL)
        emergency_row = wait_delivery(world.db, emergency_airing, cluster.id, FINAL)
        assert normal_row.state is DeliveryState.FAILED and "[preempted]" in (normal_row.error or "")
        assert emergency_row.state is DeliveryState.PLAYED
        normal_id = orders_of(world.db, normal_airing, cluster.id)[0].order_id
        [normal_end] = [e for e in agent.played() if e["event"] == "end" and e["label"] == normal_id]
        [emergency_start] = starts(agent, orders_of(world.db, emergency_airing, cluster.id)[0].order_id)
        play_at = emergency.play_at.timestamp()
        assert normal_end["completed"] is False
        assert float(normal_end["at"]) - play_at < 2.0  # the normal programme was cut within 2 s
        # and the emergency was on the air (the agent's clock estimate may put it a hair early)
        assert -0.01 <= float(emergency_start["at"]) - play_at < 2.0
    finally:
        agent.terminate()


def test_an_emergency_overtakes_queued_orders_which_are_resigned_not_refused(world: World) -> None:
    cluster = world.seed.clusters[3]
    normal_airing, emergency_airing = world.airing(), world.airing()
    handoff = world.server.runtime.handoff
    # Far enough ahead that the agent, started after both are queued, is connected before either is
    # due even on a busy machine (both overdue on arrival would race each other instead).
    handoff.hand_off(programme(normal_airing, cluster.id, world.short, play_in=11.5))
    handoff.hand_off(programme(emergency_airing, cluster.id, world.short, play_in=10, priority=Priority.EMERGENCY))
    [normal_before] = orders_of(world.db, normal_airing, cluster.id)
    [emergency_order] = orders_of(world.db, emergency_airing, cluster.id)
    assert normal_before.seq < emergency_order.seq
    agent = world.agent(3).start()
    try:
        for airing in (normal_airing, emergency_airing):
            row = wait_delivery(world.db, airing, cluster.id, FINAL)
            assert row.state is DeliveryState.PLAYED, row.error
        [normal_after] = orders_of(world.db, normal_airing, cluster.id)
        [emergency_after] = orders_of(world.db, emergency_airing, cluster.id)
        assert emergency_after.accepted_at is not None and normal_after.accepted_at is not None
        assert emergency_after.accepted_at <= normal_after.accepted_at  # the emergency went first
        assert normal_after.order_id == normal_before.order_id and normal_after.seq > emergency_after.seq
        with world.db.session() as s:
            refused = s.scalars(select(AgentReportRecord).where(AgentReportRecord.cluster_id == cluster.id,
                                                                AgentReportRecord.stage == "refused")).all()
        assert refused == []
    finally:
        agent.terminate()


def test_stop_cuts_a_playing_programme_and_withdraws_a_queued_one(world: World) -> None:
    playing_cluster, queued_cluster = world.seed.clusters[4], world.seed.clusters[5]
    agent = world.agent(4).start()
    try:
        airing = world.airing()
        handoff = world.server.runtime.handoff
        handoff.hand_off(programme(airing, playing_cluster.id, world.long, play_in=2))
        handoff.hand_off(programme(airing, queued_cluster.id, world.long, play_in=2))  # its agent is down
        order_id = orders_of(world.db, airing, playing_cluster.id)[0].order_id
        wait_for(lambda: starts(agent, order_id), 20, "the programme to start")
        handoff.stop(airing, [playing_cluster.id, queued_cluster.id])
        row = wait_delivery(world.db, airing, playing_cluster.id, FINAL)
        assert row.state is DeliveryState.CANCELLED and "[stopped]" in (row.error or "")
        withdrawn = wait_delivery(world.db, airing, queued_cluster.id, FINAL)
        assert withdrawn.state is DeliveryState.CANCELLED
        assert [o.status for o in orders_of(world.db, airing, queued_cluster.id)][0] is OrderStatus.CANCELLED
        [end] = [e for e in agent.played() if e["event"] == "end" and e["label"] == order_id]
        assert end["completed"] is False and end["reason"] == "stopped"
    finally:
        agent.terminate()


def test_a_play_stopped_and_aired_again_shows_both_plays_in_the_broadcast_log(world: World) -> None:
    cluster = world.seed.clusters[6]
    agent = world.agent(6).start()
    try:
        airing = world.airing()
        handoff = world.server.runtime.handoff
        handoff.hand_off(programme(airing, cluster.id, world.long, play_in=2))
        first = orders_of(world.db, airing, cluster.id)[0].order_id
        wait_for(lambda: starts(agent, first), 20, "the programme to start")
        # Another programme for the same airing (what a replacement does): a stop, then the new order.
        handoff.hand_off(programme(airing, cluster.id, world.short, play_in=1.5))
        row = wait_delivery(world.db, airing, cluster.id, {"played"})
        wait_for(lambda: len(delivery(world.db, airing, cluster.id).plays or []) == 2, 10, "both plays recorded")
        row = delivery(world.db, airing, cluster.id)
        assert row is not None and row.plays is not None
        cut, whole = row.plays
        assert (cut["order_id"], cut["completed"], cut["reason"]) == (first, False, "stopped")
        assert whole["completed"] is True and whole["order_id"] == row.order_id
        told = describe_plays(row.plays)  # what the broadcast log shows beside the delivery
        assert told.index("phát dở") < told.index("phát trọn") and "(bị dừng)" in told
    finally:
        agent.terminate()


def test_no_order_is_lost_across_a_server_restart(tmp_path: Path) -> None:
    port = free_port()
    settings = delivery_settings(tmp_path, port)
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 2, code="xa-khoi-dong-lai")
    first = InProcessServer(settings, port).start()
    audio = first.runtime.speech.render_text("Thử loa.")
    waiting, expiring = seed.clusters
    kept, lost = add_airing(db, seed.commune_id, datetime.now(LOCAL_ZONE)), add_airing(
        db, seed.commune_id, datetime.now(LOCAL_ZONE))
    first.runtime.handoff.hand_off(programme(kept, waiting.id, audio, play_in=5, expires_in=60))
    first.runtime.handoff.hand_off(programme(lost, expiring.id, audio, play_in=0.2, expires_in=1.5))
    first.stop()  # both agents are down: both orders are still queued, in the database
    agent = agent_for(tmp_path, waiting, seed, settings).start()
    wait_for(lambda: datetime.now(LOCAL_ZONE) > orders_of(db, lost, expiring.id)[0].expires_at, 5,
             "the second order to expire while the server is down")
    second = InProcessServer(settings, port).start()
    try:
        row = wait_delivery(db, kept, waiting.id, FINAL)
        assert row.state is DeliveryState.PLAYED, row.error
        assert len(starts(agent, row.order_id or "")) == 1
        missed = wait_delivery(db, lost, expiring.id, FINAL)
        assert missed.state is DeliveryState.MISSED
    finally:
        agent.terminate()
        second.stop()
