"""Agents that dial out, over ``pull`` and over ``mqtt`` (a real Mosquitto): real agent processes,
the real app, nothing listening on the boxes.

One server (uvicorn in this process, delivery on) serves a commune whose clusters use the
transport under test; each test starts the agents it needs, and every test runs once per
transport. What aired is read from the agents' own play logs (the null player's), never only from
the server's broadcast log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.models import BulletinStatus, Cluster, Commune, DeliveryState, OrderStatus, Priority
from broadcaster.services.broker_files import write_broker_files
from broadcaster.speech import ProgrammePiece, RenderedAudio
from tests.agent.harness import AgentProcess, free_port, wait_for
from tests.databases import is_postgresql
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
from tests.scheduler.support import add_bulletin, bulletin_status

FINAL = {"played", "failed", "missed", "cancelled"}
START_TOLERANCE_S = 0.050


@dataclass
class World:
    """The running app, its database, a commune of clusters on one transport, two rendered programmes."""

    root: Path
    server: InProcessServer
    db: Database
    seed: Seed
    short: RenderedAudio
    long: RenderedAudio
    transport: str
    broker: Mosquitto | None

    def agent(self, index: int, **options: object) -> AgentProcess:
        """An agent process (not started) for the index-th cluster, on the cluster's transport."""
        cluster = self.seed.clusters[index]
        if self.broker is not None:
            options["mqtt"] = {"url": self.broker.url, "username": f"cluster-{cluster.id}", "keepalive_s": 5}
        return agent_for(self.root, cluster, self.seed, self.server.settings, **options)

    def link(self, index: int) -> str | None:
        """The cluster's link state as the server's transport recorded it."""
        with self.db.session() as s:
            return s.get_one(Cluster, self.seed.clusters[index].id).link_state

    def airing(self) -> int:
        """A fresh airing of the commune."""
        return add_airing(self.db, self.seed.commune_id, datetime.now(LOCAL_ZONE))


@pytest.fixture(scope="module", params=["pull", "mqtt"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Server up with eight clusters on the transport (and the broker, for mqtt); agents started by each test."""
    transport: str = request.param
    root: Path = tmp_path_factory.mktemp(f"dialout-{transport}")
    port = free_port()
    broker = Mosquitto(root / "broker", free_port()) if transport == "mqtt" else None
    options: dict[str, object] = {}
    if broker is not None:
        (root / "server-mqtt-password").write_text("mat-khau-may-chu\n")
        options = {"mqtt_url": broker.url, "mqtt_password_file": root / "server-mqtt-password", "mqtt_keepalive_s": 5}
    settings = delivery_settings(root, port, pull_wait_s=20.0, **options)
    db = Database(settings.effective_database_url)
    db.upgrade()
    seed = seed_commune(db, 8, transport=transport, users=True)
    with ExitStack() as started:  # a set-up that fails stops what it started
        if broker is not None:
            with db.session() as s:
                write_broker_files(s, settings, broker.passwd, broker.acl)
            broker.start()
            started.callback(broker.stop)
        server = InProcessServer(settings, port).start()
        started.callback(server.stop)
        speech = server.runtime.speech
        yield World(root, server, db, seed, speech.render_text("Thử loa."),
                    speech.render_text("Thông báo thử nghiệm hệ thống loa phát thanh của xã.", repeat=3), transport,
                    broker)


def starts(agent: AgentProcess, order_id: str) -> list[float]:
    """When the agent's null player started ``order_id`` (real clock)."""
    return agent.true_starts(order_id)


def test_agents_listen_on_no_port_and_start_together_whatever_their_clocks(world: World) -> None:
    # Three boxes: one right, one 30 s fast, one 30 s slow (the agent's injectable clock).
    agents = [world.agent(0), world.agent(1, clock_skew_s=30.0), world.agent(2, clock_skew_s=-30.0)]
    for agent in agents:
        agent.launch()
    try:
        for agent in agents:
            agent.wait_ready()
            info = json.loads((agent.state_dir / "agent.json").read_text())
            assert info["transport"] == world.transport and "port" not in info
            assert _listening_ports(agent.process.pid) == []  # type: ignore[union-attr]
        # Each box learns the server's clock from its own exchanges, before the order is even sent.
        for agent, skew in zip(agents, (0.0, 30.0, -30.0), strict=True):
            wait_for(lambda a=agent: (a.status().get("clock") or {}).get("samples", 0) >= 4, 20,
                     "the agent to measure the server clock a few times")
            offset_s = agent.status()["clock"]["offset_ms"] / 1000
            assert abs(offset_s + skew) < 0.5, (offset_s, skew)
        airing = world.airing()
        programmes = [programme(airing, c.id, world.short, play_in=3) for c in world.seed.clusters[:3]]
        play = programmes[0]
        assert world.server.runtime.handoff.hand_off_many(programmes) == {}
        rows = [wait_delivery(world.db, airing, c.id, FINAL) for c in world.seed.clusters[:3]]
        assert [r.state for r in rows] == [DeliveryState.PLAYED] * 3, [r.error for r in rows]
        # From each player's own log, on the real clock: the instant it aimed at ("planned", what the
        # clock correction decides) and the instant the first sample went ("at"; a busy machine
        # may hand the player its CPU late, which no clock can fix, and the log shows it).
        logs = [[e for e in agent.played() if e["event"] == "start" and e["label"] == row.order_id]
                for agent, row in zip(agents, rows, strict=True)]
        assert all(len(entries) == 1 for entries in logs), logs
        aimed = [float(entries[0]["planned"]) - agent.clock_skew_s for entries, agent in zip(logs, agents, strict=True)]
        started = [float(entries[0]["at"]) - agent.clock_skew_s for entries, agent in zip(logs, agents, strict=True)]
        print(f"aimed vs the correct box (ms): {[round((a - aimed[0]) * 1000, 1) for a in aimed]}; "
              f"late to start (ms): {[round((s - a) * 1000, 1) for s, a in zip(started, aimed, strict=True)]}")
        for other in aimed[1:]:
            assert abs(other - aimed[0]) < START_TOLERANCE_S, (other - aimed[0])
        assert abs(aimed[0] - play.play_at.timestamp()) < START_TOLERANCE_S
        assert all(0 <= s - a < 1.0 for s, a in zip(started, aimed, strict=True))
    finally:
        for agent in agents:
            agent.terminate()


def test_a_timetable_session_airs_on_the_boxes_at_its_start(world: World) -> None:
    # The commune's own timetable gets a session a few seconds from now; the session job (what
    # APScheduler runs at its time) composes the approved bulletin and hands it off over the transport.
    text = "Mời bà con dự họp thôn lúc 19 giờ."
    targets = world.seed.clusters[:2]
    ids = {"commune": world.seed.commune_id, "author": world.seed.users["approver"]} | {c.name: c.id for c in targets}
    bulletin = add_bulletin(world.db, ids, text, clusters=tuple(c.name for c in targets))
    world.server.runtime.speech.render_programme([ProgrammePiece(text=text)], chime=True)  # rendered ahead, as usual
    agents = [world.agent(0).start(), world.agent(1).start()]
    starts_at = (datetime.now(LOCAL_ZONE) + timedelta(seconds=6)).replace(microsecond=0)
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    with world.db.session() as s:
        s.get_one(Commune, world.seed.commune_id).timetable_override = {"sessions": [
            {"name": "thu", "start": f"{starts_at:%H:%M:%S}", "days": every_day, "max_minutes": 5}]}
    try:
        result = world.server.runtime.programming.run_session(world.seed.commune_id, "thu", starts_at)
        assert result.airing_id is not None, result.note
        rows = [wait_delivery(world.db, result.airing_id, c.id, FINAL) for c in targets]
        assert [r.state for r in rows] == [DeliveryState.PLAYED] * 2, [r.error for r in rows]
        for agent, row in zip(agents, rows, strict=True):
            [start] = [e for e in agent.played() if e["event"] == "start" and e["label"] == row.order_id]
            # Each box aims at the order's play time, the session's start; a busy machine may deliver it
            # late (then it starts at once, late), but no box ever starts early.
            assert float(start["planned"]) >= row.play_at.timestamp() - START_TOLERANCE_S
            assert row.play_at.timestamp() >= starts_at.timestamp() - START_TOLERANCE_S
        assert bulletin_status(world.db, bulletin) is BulletinStatus.AIRED
    finally:
        for agent in agents:
            agent.terminate()
        with world.db.session() as s:
            s.get_one(Commune, world.seed.commune_id).timetable_override = None


def test_an_order_reaches_a_connected_agent_at_once_and_emergencies_preempt(world: World) -> None:
    cluster = world.seed.clusters[3]
    agent = world.agent(3).start()
    try:
        wait_for(lambda: world.link(3) == "connected", 15, "the agent to connect")
        normal_airing, emergency_airing = world.airing(), world.airing()
        handoff = world.server.runtime.handoff
        handoff.hand_off(programme(normal_airing, cluster.id, world.long, play_in=1.5))
        [normal] = orders_of(world.db, normal_airing, cluster.id)
        accepted = wait_for(lambda: orders_of(world.db, normal_airing, cluster.id)[0].accepted_at, 5,
                            "the agent to take the order")
        assert (accepted - normal.created_at).total_seconds() < 1.0  # handed over to the waiting poll
        wait_for(lambda: starts(agent, normal.order_id), 20, "the normal programme to start")
        handoff.hand_off(programme(emergency_airing, cluster.id, world.short, play_in=1.0, priority=Priority.EMERGENCY))
        normal_row = wait_delivery(world.db, normal_airing, cluster.id, FINAL)
        emergency_row = wait_delivery(world.db, emergency_airing, cluster.id, FINAL)
        assert normal_row.state is DeliveryState.FAILED and "[preempted]" in (normal_row.error or "")
        assert emergency_row.state is DeliveryState.PLAYED
    finally:
        agent.terminate()


def test_stop_and_recall(world: World) -> None:
    cluster = world.seed.clusters[4]
    agent = world.agent(4).start()
    try:
        wait_for(lambda: world.link(4) == "connected", 15, "the agent to connect")
        handoff = world.server.runtime.handoff
        stopped, recalled = world.airing(), world.airing()
        handoff.hand_off(programme(stopped, cluster.id, world.long, play_in=1.5))
        playing = orders_of(world.db, stopped, cluster.id)[0].order_id
        wait_for(lambda: starts(agent, playing), 20, "the programme to start")
        handoff.stop(stopped, [cluster.id])
        row = wait_delivery(world.db, stopped, cluster.id, FINAL)
        assert row.state is DeliveryState.CANCELLED and "[stopped]" in (row.error or "")
        # A recall replaces a programme the agent already holds: stop + the new one, the new one plays.
        handoff.hand_off(programme(recalled, cluster.id, world.long, play_in=6))
        wait_for(lambda: orders_of(world.db, recalled, cluster.id)[0].status is OrderStatus.ACCEPTED, 10,
                 "the first programme to be taken")
        handoff.hand_off(programme(recalled, cluster.id, world.short, play_in=5))
        replaced = wait_delivery(world.db, recalled, cluster.id, FINAL)
        assert replaced.state is DeliveryState.PLAYED, replaced.error
        orders = orders_of(world.db, recalled, cluster.id)
        assert [o.kind for o in orders] == ["play", "stop", "play"]
        assert starts(agent, orders[0].order_id) == [] and len(starts(agent, orders[2].order_id)) == 1
    finally:
        agent.terminate()


def test_an_agent_back_before_expiry_catches_up_and_one_back_after_is_missed(world: World) -> None:
    early, late = world.seed.clusters[5], world.seed.clusters[6]
    handoff = world.server.runtime.handoff
    kept, lost = world.airing(), world.airing()
    handoff.hand_off(programme(kept, early.id, world.short, play_in=1, expires_in=30))
    handoff.hand_off(programme(lost, late.id, world.short, play_in=0.5, expires_in=1.5))
    if world.transport == "mqtt":
        # The broker takes it (these boxes never subscribed yet, so it keeps nothing for them);
        # once expired unconfirmed, the minutely housekeeping records it missed.
        wait_for(lambda: datetime.now(LOCAL_ZONE) > orders_of(world.db, lost, late.id)[0].expires_at, 5, "expiry")
        world.server.runtime.delivery.housekeeping()
    missed = wait_delivery(world.db, lost, late.id, FINAL, timeout=15)
    assert missed.state is DeliveryState.MISSED
    assert ("not_confirmed" if world.transport == "mqtt" else "transport_unavailable") in (missed.error or "")
    agents = [world.agent(5).start(), world.agent(6).start()]
    try:
        row = wait_delivery(world.db, kept, early.id, FINAL)
        assert row.state is DeliveryState.PLAYED, row.error
        assert len(starts(agents[0], row.order_id or "")) == 1
        # pull: the lane was backing off and the connection woke it; mqtt: the box came online and
        # the server sent again what the broker took for it before it had ever subscribed.
        [order] = orders_of(world.db, kept, early.id)
        assert order.attempts >= 1
        wait_for(lambda: agents[1].status().get("clock_synced"), 10, "the late agent to be up")
        assert agents[1].played() == []  # the expired order never reaches it, nothing plays
    finally:
        for agent in agents:
            agent.terminate()


def test_an_emergency_airs_where_it_can_when_its_hand_off_fails_for_some_clusters(world: World) -> None:
    exhausted, broken, healthy = world.seed.clusters[5:8]
    names = {c.name: c.id for c in (exhausted, broken, healthy)}
    with world.db.session() as s:
        # Two different faults: a counter pushed to its ceiling, and a row the database refuses.
        s.execute(update(Cluster).where(Cluster.id == exhausted.id).values(order_seq=2**31 - 1))
        for statement in refusal_trigger(broken.id):
            s.execute(text(statement))
    agent = world.agent(7).start()
    try:
        wait_for(lambda: world.link(7) == "connected", 15, "the agent to connect")
        ids = {"commune": world.seed.commune_id, "author": world.seed.users["approver"], **names}
        bulletin = add_bulletin(world.db, ids, "Khẩn cấp: lũ về, di dời ngay.", priority=Priority.EMERGENCY,
                                clusters=tuple(names))
        aired = world.server.runtime.programming.air_emergency(bulletin)
        assert sorted(aired.failed_cluster_ids) == sorted([exhausted.id, broken.id])
        played = wait_delivery(world.db, aired.airing_id, healthy.id, FINAL)
        assert played.state is DeliveryState.PLAYED, played.error
        assert len(starts(agent, played.order_id or "")) == 1
        for cluster, code in ((exhausted, "cluster_seq_exhausted"), (broken, "delivery_internal_error")):
            row = wait_delivery(world.db, aired.airing_id, cluster.id, FINAL)
            assert row.state is DeliveryState.FAILED and f"[{code}]" in (row.error or ""), row.error
    finally:
        agent.terminate()
        with world.db.session() as s:
            for statement in refusal_trigger(broken.id, drop=True):
                s.execute(text(statement))


def refusal_trigger(cluster_id: int, *, drop: bool = False) -> list[str]:
    """The statements that make the database refuse (or, with ``drop``, again accept) this cluster's orders."""
    name = f"refuse_cluster_{cluster_id}"
    if not is_postgresql():
        return [f"DROP TRIGGER {name}"] if drop else [
            f"CREATE TRIGGER {name} BEFORE INSERT ON delivery_orders WHEN NEW.cluster_id = {cluster_id} "
            "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"]
    if drop:
        return [f"DROP TRIGGER {name} ON delivery_orders", f"DROP FUNCTION {name}()"]
    return [f"CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ "
            "LANGUAGE plpgsql",
            f"CREATE TRIGGER {name} BEFORE INSERT ON delivery_orders FOR EACH ROW "
            f"WHEN (NEW.cluster_id = {cluster_id}) EXECUTE FUNCTION {name}()"]


def _listening_ports(pid: int) -> list[int]:
    # Sockets in LISTEN state owned by the process: its fds against /proc/net/tcp{,6}.
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
