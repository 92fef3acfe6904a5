"""The server's outbox of signed orders (services.delivery), on a real database (SQLite and PostgreSQL).

What it promises: an order is signed and stored once per airing and cluster, and a second hand-off
sends the very same bytes; a new programme withdraws the old order (with a signed stop if an agent
holds it); a restarted server sends what was left queued byte for byte and records as missed what
expired while it was down; the lanes' node takes up what another replica stored; a cluster that is
gone or out of seqs fails alone; audio stays pinned until its orders expire. Agents are scripted
HTTP endpoints on 127.0.0.1 behind the real ``http`` transport (``scripted_agents``).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from broadcaster.clock import LOCAL_ZONE, FixedClock
from broadcaster.db import aware_utc, utc_now
from broadcaster.delivery.orders import MAX_SEQ
from broadcaster.models import AgentReportRecord, Cluster, Priority
from broadcaster.services.delivery import SEQ_HEADROOM, DeliveryClusterUnknown, DeliveryService
from tests.agent.harness import wait_for
from tests.delivery.scripted_agents import BUSY, LONG_BACKOFF, STORED, WorldFactory, Worlds, always, audio_in


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[WorldFactory]:
    """``make_world(clusters, **settings)``: a commune whose http clusters are answered by scripted agents."""
    worlds = Worlds(tmp_path)
    yield worlds.build
    worlds.close()


def test_what_a_stopped_server_left_queued_is_sent_byte_for_byte_after_the_restart_and_the_expired_is_missed(
    make_world: WorldFactory,
) -> None:
    world = make_world(1, **LONG_BACKOFF)
    [cluster] = world.clusters
    world.agents.script[str(cluster)] = always(BUSY)
    before = world.service()
    lasting, short = world.airing(), world.airing()
    assert before.hand_off_many([world.programme(lasting, cluster, play_in=600, expires_in=600),
                                 world.programme(short, cluster, play_in=60, expires_in=60)]) == {}
    wait_for(lambda: world.agents.of(cluster), 60, "the first attempt")
    before.close()  # the server stops (or its lease moves): nothing is lost, nothing reported
    assert not before.running
    stored = {row.airing_id: row for row in world.orders()}
    assert {str(row.status) for row in stored.values()} == {"queued"}
    [tried] = world.agents.of(cluster)
    assert tried.body == stored[lasting].envelope.encode()

    world.agents.script[str(cluster)] = always(STORED)
    assert world.service(start=False).resume() == 2  # a standby counts them, sends nothing, expires nothing
    assert len(world.agents.of(cluster)) == 1 and {str(row.status) for row in world.orders()} == {"queued"}
    restart_at = datetime.now(LOCAL_ZONE) + timedelta(minutes=5)  # the short order expired while it was down

    after = world.service(FixedClock(restart_at))

    missed = world.order(short, cluster)
    assert str(missed.status) == "expired" and missed.last_error == "server down until the order expired"
    delivery = world.delivery(short, cluster)
    assert str(delivery.state) == "missed"
    assert delivery.error == "[server_down] Máy chủ không hoạt động cho tới khi lệnh phát hết hạn."
    [event] = world.audits("delivery_missed")
    assert event.details == {"order_id": missed.order_id, "reason": "server_down"}
    assert event.commune_id == world.seed.commune_id
    row = world.wait_status(lasting, cluster, "accepted")
    assert world.agents.of(cluster)[-1].order["airing_id"] == str(lasting)
    again = world.agents.of(cluster)[-1]
    assert again.body == tried.body == row.envelope.encode()  # the very same signed bytes
    assert len(world.agents.of(cluster)) == 2 and len(world.audits("delivery_missed")) == 1
    after.start()  # already running: nothing is resumed twice
    assert len(world.agents.of(cluster)) == 2


def test_a_second_hand_off_keeps_the_order_and_a_new_programme_replaces_it(make_world: WorldFactory) -> None:
    world = make_world(2, **LONG_BACKOFF)
    waiting, holding = world.clusters
    world.agents.script[str(waiting)] = always(BUSY)
    now = datetime.now(LOCAL_ZONE).replace(microsecond=0)
    service = world.service(FixedClock(now))
    airing = world.airing()
    first = {waiting: world.programme(airing, waiting, tag="a"),  # outlives the 300 s backoff
             holding: world.programme(airing, holding, tag="a", play_in=60, expires_in=60)}
    service.hand_off_many(list(first.values()))
    world.wait_status(airing, holding, "accepted")
    wait_for(lambda: world.agents.of(waiting), 60, "the first attempt at the busy cluster")

    service.hand_off_many(list(first.values()))  # at least once: the same programme again

    assert [len(world.orders(airing, cluster)) for cluster in world.clusters] == [1, 1]
    assert str(world.order(airing, waiting).status) == "queued"
    assert str(world.order(airing, holding).status) == "accepted"
    assert len(world.agents.of(holding)) == 1  # delivered: not sent again
    assert str(world.delivery(airing, holding).state) == "sent"
    # A new programme: the same audio later at one cluster, other audio at the same time at the other.
    moved = dataclasses.replace(first[waiting], play_at=first[waiting].play_at + timedelta(seconds=30),
                                expires_at=first[waiting].expires_at + timedelta(seconds=30))
    second = {waiting: moved, holding: dataclasses.replace(first[holding], priority=Priority.PRIORITY,
                                                           audio=audio_in(world.settings.cache_dir, "b"))}
    kept = {cluster: world.order(airing, cluster).order_id for cluster in world.clusters}
    # keep_issued (a resumed hand-off): a different programme leaves what the clusters hold alone.
    assert service.hand_off_many(list(second.values()), keep_issued=True) == {}
    assert [len(world.orders(airing, cluster)) for cluster in world.clusters] == [1, 1]
    assert aware_utc(world.delivery(airing, waiting).play_at) == first[waiting].play_at
    assert service.lanes.pending_count() == 1

    world.agents.script[str(waiting)] = always(STORED)
    service.hand_off_many(list(second.values()))  # a recall: the new programme replaces the old

    old, new = world.orders(airing, waiting)
    assert old.order_id == kept[waiting] and str(old.status) == "cancelled"
    assert new.kind == "play" and aware_utc(new.play_at) == moved.play_at
    delivery = world.delivery(airing, waiting)
    assert delivery.order_id == new.order_id and delivery.order_seq == new.seq
    assert aware_utc(delivery.play_at) == moved.play_at and str(delivery.state) in {"pending", "sent"}
    world.wait_status(airing, waiting, "accepted")  # the lane woke from its backoff for the withdrawal
    wait_for(lambda: world.orders(airing, waiting)[0].attempts == 1, 60, "the lane to report the withdrawn order")
    # The agent that held the old order gets a signed stop for it first, then the replacement.
    held, stop, replacement = world.orders(airing, holding)
    assert held.order_id == kept[holding] and str(held.status) == "accepted"
    assert stop.kind == "stop" and stop.seq < replacement.seq and replacement.kind == "play"
    assert replacement.audio_sha256 == second[holding].audio.sha256
    assert str(stop.priority) == "priority" and aware_utc(stop.play_at) == now
    assert aware_utc(stop.expires_at) == now + timedelta(minutes=10)  # outlives the two-minute programme
    wait_for(lambda: len(world.agents.of(holding)) == 3, 60, "the stop and the replacement to be sent")
    assert [r.order["order_id"] for r in world.agents.of(holding)] == [held.order_id, stop.order_id,
                                                                      replacement.order_id]
    delivery = world.delivery(airing, holding)
    assert delivery.order_id == replacement.order_id and delivery.audio_sha256 == second[holding].audio.sha256


def test_a_cluster_that_is_gone_out_of_seqs_or_refused_by_the_database_fails_alone(make_world: WorldFactory) -> None:
    world = make_world(4)
    fine, exhausted, last_good, broken = world.clusters
    with world.db.session() as s:
        s.execute(update(Cluster).where(Cluster.id == exhausted).values(order_seq=MAX_SEQ - SEQ_HEADROOM))
        s.execute(update(Cluster).where(Cluster.id == last_good).values(order_seq=MAX_SEQ - SEQ_HEADROOM - 1))
    service = world.service()
    airing = world.airing()
    programmes = [world.programme(airing, cluster) for cluster in (fine, exhausted, last_good)]
    programmes.append(world.programme(airing, 999_999))

    failures = service.hand_off_many(programmes)

    assert failures == {
        exhausted: f"[cluster_seq_exhausted] Cụm loa số {exhausted} đã dùng hết số thứ tự lệnh phát; "
                   "cần cài đặt lại máy điều khiển.",
        999_999: "[delivery_cluster_unknown] Không còn cụm loa số 999999.",
    }
    world.wait_status(airing, fine, "accepted")
    assert world.wait_status(airing, last_good, "accepted").seq == MAX_SEQ - SEQ_HEADROOM
    assert world.orders(airing, exhausted) == []
    with pytest.raises(DeliveryClusterUnknown):
        service.hand_off(world.programme(airing, 999_999))
    # A row the database refuses (an airing that does not exist) sinks its batch; the others are
    # then handed off one by one and only that cluster fails.
    other = world.airing()
    failures = service.hand_off_many([world.programme(other, fine), world.programme(123_456, broken)])
    assert list(failures) == [broken] and failures[broken].startswith("[delivery_internal_error] Lỗi khi giao lệnh")
    world.wait_status(other, fine, "accepted")
    assert world.orders(123_456) == []
    with pytest.raises(Exception, match="(?i)foreign key"):
        service.hand_off(world.programme(123_456, broken))


def test_the_lanes_node_takes_up_orders_another_replica_stored(make_world: WorldFactory) -> None:
    world = make_world(2, **LONG_BACKOFF)
    theirs, ours = world.clusters
    world.agents.script[str(ours)] = always(BUSY)
    leader = world.service()
    standby = world.service(start=False)
    own, stored_elsewhere = world.airing(), world.airing()
    leader.hand_off(world.programme(own, ours))
    wait_for(lambda: world.agents.of(ours), 60, "the leader's own order to be tried")
    assert leader.take_up_outbox() == 0  # its own order, queued in its lane: not taken twice

    standby.hand_off(world.programme(stored_elsewhere, theirs))
    assert standby.take_up_outbox() == 0 and not standby.running  # a standby sends nothing

    row = world.wait_status(stored_elsewhere, theirs, "accepted")  # the leader's outbox watch took it
    assert [r.body for r in world.agents.of(theirs)] == [row.envelope.encode()]
    assert leader.take_up_outbox() == 0
    assert len(world.agents.of(ours)) == 1  # the watch never re-queued the order in backoff


def test_audio_stays_pinned_until_its_orders_expire_and_old_reports_are_forgotten(make_world: WorldFactory) -> None:
    world = make_world(2)
    service = world.service()
    airing, other = world.airing(), world.airing()
    programmes = [world.programme(airing, cluster, play_in=60, expires_in=60) for cluster in world.clusters]
    service.hand_off_many(programmes)
    service.hand_off(world.programme(other, world.clusters[0], tag="z", play_in=60, expires_in=600))
    key = programmes[0].audio.path.stem
    odd = dataclasses.replace(world.programme(other, world.clusters[1]), audio=dataclasses.replace(
        programmes[0].audio, path=world.settings.cache_dir / "ghi-am-cu.mp3"))
    assert service.hand_off_many([odd]) == {}  # audio outside the cache is not pinned, but it is delivered
    assert world.cache.pinned()[key] == {f"delivery:{airing}"}  # one pin per airing and audio
    world.cache.pin(key, "preview")
    world.cache.pin(audio_in(world.settings.cache_dir, "q").path.stem, "delivery:hỏng")
    for cluster in world.clusters:
        world.wait_status(airing, cluster, "accepted")
    expiry = world.order(airing, world.clusters[0]).expires_at
    now = utc_now()
    with world.db.session() as s:
        for days in (31, 29):
            s.add(AgentReportRecord(report_id=str(uuid.uuid4()), cluster_id=world.clusters[0], seq=days,
                                    stage="received", at=now, received_at=now - timedelta(days=days), body={}))

    early = world.service(FixedClock(aware_utc(expiry) - timedelta(seconds=1)), start=False)
    assert early.housekeeping() == 1  # only the pin of no airing
    assert world.cache.pinned()[key] == {f"delivery:{airing}", "preview"}
    assert str(world.delivery(airing, world.clusters[0]).state) == "sent"
    assert early.housekeeping() == 0

    late = world.service(FixedClock(aware_utc(expiry)), start=False)
    assert late.housekeeping() == 1
    assert world.cache.pinned()[key] == {"preview"}  # another holder's pin stays
    assert f"delivery:{other}" in world.cache.pinned()[audio_in(world.settings.cache_dir, "z").path.stem]
    with world.db.session() as s:
        assert list(s.scalars(select(AgentReportRecord.seq))) == [29]
    # Taken by the agent but never confirmed before expiry: missed (the agent's own word would win).
    later = world.service(FixedClock(aware_utc(expiry) + timedelta(seconds=1)), start=False)
    later.housekeeping()
    delivery = world.delivery(airing, world.clusters[1])
    assert str(delivery.state) == "missed" and "[not_confirmed]" in (delivery.error or "")
    assert DeliveryService(world.settings, world.db, None).housekeeping() == 0  # no cache: nothing pinned


def test_a_stop_lives_as_long_as_what_it_stops_and_at_least_ten_minutes(make_world: WorldFactory) -> None:
    world = make_world(2)
    now = datetime.now(LOCAL_ZONE).replace(microsecond=0)
    service = world.service(FixedClock(now))
    brief, long = world.airing(), world.airing()
    service.hand_off(world.programme(brief, world.clusters[0], priority=Priority.EMERGENCY, play_in=5,
                                     expires_in=60))
    service.hand_off(world.programme(long, world.clusters[1], play_in=5, expires_in=3600))
    world.wait_status(brief, world.clusters[0], "accepted")
    world.wait_status(long, world.clusters[1], "accepted")

    service.stop(brief, world.clusters)  # the second cluster has nothing of this airing
    service.stop(long, [world.clusters[1]])

    [play, stop] = world.orders(brief, world.clusters[0])
    assert stop.kind == "stop" and str(stop.priority) == "emergency" and str(play.status) == "accepted"
    assert aware_utc(stop.expires_at) == now + timedelta(minutes=10) and aware_utc(stop.play_at) == now
    assert world.orders(brief, world.clusters[1]) == []
    [play, stop] = world.orders(long, world.clusters[1])
    assert aware_utc(stop.expires_at) == aware_utc(play.expires_at) and str(stop.priority) == "normal"
    wait_for(lambda: [str(row.status) for row in world.orders()].count("accepted") == 4, 60, "the stops to go")
