"""The delivery lanes' promises, at the level of the lanes, on a real database (SQLite and PostgreSQL).

A lane per cluster sends its most urgent order first (stop, emergency, priority, normal; by seq
within a rank), retries an order the agent cannot take yet until it expires, re-signs an order an
emergency overtook, and one cluster that cannot be reached never holds up another. The agents are
scripted HTTP endpoints on 127.0.0.1 (``scripted_agents``) reached through the real ``http``
transport; the lanes run inside the real ``DeliveryService``, which signs, stores and records. Waits
are on conditions; where a test needs a lane to be *woken*, its backoff is far longer than the wait.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from broadcaster.delivery.orders import PlayOrder
from broadcaster.models import Priority
from tests.agent.harness import free_port, wait_for
from tests.delivery.scripted_agents import (
    BAD_SIGNATURE,
    BUSY,
    DUPLICATE,
    EXPIRED,
    LONG_BACKOFF,
    REPLAYED,
    STORED,
    WorldFactory,
    Worlds,
    after,
    always,
)


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[WorldFactory]:
    """``make_world(clusters, **settings)``: a commune whose http clusters are answered by scripted agents."""
    worlds = Worlds(tmp_path)
    yield worlds.build
    worlds.close()


def test_a_lane_sends_the_most_urgent_order_first_and_resigns_the_orders_it_overtook(make_world: WorldFactory) -> None:
    world = make_world(1)
    [cluster] = world.clusters
    airings = {name: world.airing() for name in ("normal-1", "normal-2", "priority", "emergency")}
    priorities = {"normal-1": Priority.NORMAL, "normal-2": Priority.NORMAL, "priority": Priority.PRIORITY,
                  "emergency": Priority.EMERGENCY}
    handed = world.service(start=False)  # stored in the outbox in seq order; the lane takes them all at once
    assert handed.hand_off_many([world.programme(airings[name], cluster, priority=priorities[name])
                                 for name in airings]) == {}
    first_seqs = {row.airing_id: row.seq for row in world.orders()}
    assert sorted(first_seqs.values()) == list(first_seqs.values())  # issued in the order given

    world.service()
    for airing_id in airings.values():
        world.wait_status(airing_id, cluster, "accepted")

    sent = world.agents.of(cluster)
    assert [int(r.order["airing_id"]) for r in sent] == [airings[name] for name in
                                                        ("emergency", "priority", "normal-1", "normal-2")]
    seqs = [r.order["seq"] for r in sent]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4  # the agent never sees a seq go back
    # The emergency went with its own seq; the three it overtook were signed again with fresh ones.
    assert seqs[0] == first_seqs[airings["emergency"]]
    assert all(seq > seqs[0] for seq in seqs[1:])
    for received in sent:
        row = world.order(int(received.order["airing_id"]), cluster)
        assert row.envelope.encode() == received.body  # stored as last sent, byte for byte
        assert row.seq == received.order["seq"] and row.attempts == 1
        assert world.delivery(row.airing_id, cluster).order_seq == row.seq
        assert str(world.delivery(row.airing_id, cluster).state) == "sent"
    assert {r.order["order_id"] for r in sent} == {row.order_id for row in world.orders()}  # same orders, re-signed


def test_one_cluster_that_cannot_be_reached_holds_up_no_other_and_is_missed_at_expiry(
    make_world: WorldFactory,
) -> None:
    world = make_world(3)
    busy, fine, nowhere = world.clusters
    world.agents.script[str(busy)] = always(BUSY)
    world.point(nowhere, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    service = world.service()
    airing = world.airing()
    service.hand_off_many([world.programme(airing, cluster, play_in=2.0, expires_in=2.0) for cluster in world.clusters])

    world.wait_status(airing, fine, "accepted")
    assert str(world.order(airing, busy).status) == "queued"  # still being retried, not given up
    for cluster in (busy, nowhere):
        row = world.wait_status(airing, cluster, "expired")
        assert row.last_error is not None
        assert row.last_error.startswith("[transport_unavailable] Không gửi được lệnh phát tới cụm loa trước khi hết hạn (")
        delivery = world.delivery(airing, cluster)
        assert str(delivery.state) == "missed" and delivery.error == row.last_error
    assert "trả lời bất thường (HTTP 503)" in (world.order(airing, busy).last_error or "")
    assert "Không liên lạc được" in (world.order(airing, nowhere).last_error or "")
    # Retried while it could still make it (every 0.1-0.3 s for 4 s), not tried once and dropped.
    assert world.order(airing, busy).attempts == len(world.agents.of(busy)) > 2
    assert world.order(airing, fine).attempts == 1
    missed = world.audits("delivery_missed")
    assert sorted(event.details["order_id"] for event in missed) == sorted(
        world.order(airing, cluster).order_id for cluster in (busy, nowhere))


def test_an_order_is_retried_until_the_agent_takes_it(make_world: WorldFactory) -> None:
    world = make_world(1)
    [cluster] = world.clusters
    world.agents.script[str(cluster)] = after(2, STORED)
    service = world.service()
    airing = world.airing()
    service.hand_off(world.programme(airing, cluster))

    row = world.wait_status(airing, cluster, "accepted")

    assert row.attempts == 3 and row.accepted_at is not None and row.last_error is None
    sent = world.agents.of(cluster)
    assert len(sent) == 3 and len({r.body for r in sent}) == 1  # the very same bytes each time
    assert sent[0].body == row.envelope.encode()
    delivery = world.delivery(airing, cluster)
    assert str(delivery.state) == "sent" and delivery.attempts == 3 and delivery.sent_at is not None


def test_each_final_answer_of_an_agent_is_stored_with_its_reason(make_world: WorldFactory) -> None:
    world = make_world(3)
    refusing, late, holding = world.clusters
    world.agents.script.update({str(refusing): always(BAD_SIGNATURE), str(late): always(EXPIRED),
                                str(holding): always(DUPLICATE)})
    service = world.service()
    airing = world.airing()
    service.hand_off_many([world.programme(airing, cluster) for cluster in world.clusters])

    refused = world.wait_status(airing, refusing, "refused")
    assert refused.last_error == "[order_bad_signature] Chữ ký không hợp lệ." and refused.attempts == 1
    assert str(world.delivery(airing, refusing).state) == "failed"
    expired = world.wait_status(airing, late, "expired")
    assert expired.last_error == "[order_expired] Lệnh đã hết hạn." and expired.attempts == 1
    assert str(world.delivery(airing, late).state) == "missed"
    held = world.wait_status(airing, holding, "accepted")  # a copy it already holds: delivered
    assert held.attempts == 1 and held.last_error is None
    assert [len(world.agents.of(cluster)) for cluster in world.clusters] == [1, 1, 1]  # none retried
    assert [e.details["order_id"] for e in world.audits("delivery_refused")] == [refused.order_id]


def test_a_replayed_seq_is_signed_again_once_and_a_second_refusal_means_delivered(make_world: WorldFactory) -> None:
    world = make_world(2)
    once, twice = world.clusters
    world.agents.script[str(once)] = lambda _order, n: REPLAYED if n == 1 else STORED
    world.agents.script[str(twice)] = always(REPLAYED)
    service = world.service()
    airing = world.airing()
    service.hand_off_many([world.programme(airing, cluster) for cluster in world.clusters])

    for cluster in world.clusters:
        row = world.wait_status(airing, cluster, "accepted")
        first, second = world.agents.of(cluster)  # re-signed once, never more
        assert first.order["order_id"] == second.order["order_id"] == row.order_id
        assert second.order["seq"] > first.order["seq"]
        PlayOrder.model_validate(second.order)  # a whole order, only its seq new
        assert {k: v for k, v in first.order.items() if k != "seq"} == {
            k: v for k, v in second.order.items() if k != "seq"}
        assert row.seq == second.order["seq"] and row.envelope.encode() == second.body
        assert row.attempts == 2 and world.delivery(airing, cluster).order_seq == row.seq


def test_an_unknown_transport_refuses_its_orders_and_the_others_still_go(make_world: WorldFactory) -> None:
    world = make_world(2)
    pigeon, fine = world.clusters
    world.point(pigeon, "chuồng 7", transport="bo-cau")
    service = world.service()  # opening the transports in use logs the unknown one and goes on
    airing = world.airing()
    service.hand_off_many([world.programme(airing, cluster) for cluster in world.clusters])

    refused = world.wait_status(airing, pigeon, "refused")
    assert refused.last_error is not None and refused.last_error.startswith("[transport_unknown] ")
    assert "bo-cau" in refused.last_error and refused.attempts == 0
    world.wait_status(airing, fine, "accepted")
    assert world.agents.of(pigeon) == []


def test_a_stop_overtakes_an_order_waiting_out_its_backoff_and_cancels_it(make_world: WorldFactory) -> None:
    world = make_world(1, **LONG_BACKOFF)
    [cluster] = world.clusters
    service = world.service()
    earlier, airing = world.airing(), world.airing()
    world.agents.script[str(cluster)] = lambda order, _n: (
        STORED if order["kind"] == "stop" or int(order["airing_id"]) == earlier else BUSY)
    service.hand_off(world.programme(earlier, cluster))
    world.wait_status(earlier, cluster, "accepted")
    service.hand_off(world.programme(airing, cluster))
    wait_for(lambda: len(world.agents.of(cluster)) == 2, 60, "the play order's first attempt")

    service.stop(airing, [cluster])  # the lane sleeps 300 s: only the stop's arrival can wake it

    assert str(world.orders(airing, cluster)[0].status) == "cancelled"  # withdrawn in the outbox at once
    wait_for(lambda: world.orders(airing, cluster)[0].attempts == 1, 60, "the lane to report the cancelled order")
    play = world.orders(airing, cluster)[0]
    wait_for(lambda: str(world.orders(airing, cluster)[-1].status) == "accepted", 60, "the stop to be taken")
    [stop] = [row for row in world.orders(airing, cluster) if row.kind == "stop"]
    assert stop.seq > play.seq
    assert [r.order["kind"] for r in world.agents.of(cluster)] == ["play", "play", "stop"]
    assert world.agents.of(cluster)[-1].body == stop.envelope.encode()
    assert str(play.status) == "cancelled"
    assert str(world.delivery(airing, cluster).state) == "cancelled"
    # A stop for an airing with nothing live at the cluster, or for a cluster gone, sends nothing.
    service.stop(airing, [cluster, 999_999])
    assert len([row for row in world.orders(airing, cluster) if row.kind == "stop"]) == 1
    assert service.lanes.pending_count() == 0


def test_an_emergency_wakes_a_lane_sleeping_in_backoff_and_the_normal_orders_wait(make_world: WorldFactory) -> None:
    world = make_world(1, **LONG_BACKOFF)
    [cluster] = world.clusters
    world.agents.script[str(cluster)] = lambda order, _n: BUSY if order["priority"] == "normal" else STORED
    service = world.service()
    normal, later, emergency, priority = world.airing(), world.airing(), world.airing(), world.airing()
    service.hand_off_many([world.programme(normal, cluster), world.programme(later, cluster)])
    wait_for(lambda: len(world.agents.of(cluster)) == 1, 60, "the first normal order's first attempt")

    service.hand_off(world.programme(emergency, cluster, priority=Priority.EMERGENCY))

    world.wait_status(emergency, cluster, "accepted")
    assert str(world.order(normal, cluster).status) == "queued"
    # Once the emergency is out, the first normal order is tried again at once, re-signed above it,
    # then sleeps again: the other normal order waits behind it, and a priority order wakes the lane.
    wait_for(lambda: len(world.agents.of(cluster)) == 3, 60, "the normal order's next attempt")
    assert service.lanes.pending_count() == 2
    service.hand_off(world.programme(priority, cluster, priority=Priority.PRIORITY))
    world.wait_status(priority, cluster, "accepted")
    wait_for(lambda: len(world.agents.of(cluster)) == 5, 60, "the normal order's attempt after the priority one")
    sent = world.agents.of(cluster)
    # By seq within a rank: the re-signed first normal order now has a higher seq than the other one.
    assert [int(r.order["airing_id"]) for r in sent] == [normal, emergency, normal, priority, later]
    assert [r.order["seq"] for r in sent] == sorted(r.order["seq"] for r in sent)
    assert str(world.order(normal, cluster).status) == "queued"


def test_an_agent_back_online_is_tried_at_once_at_the_address_the_registry_has_now(make_world: WorldFactory) -> None:
    world = make_world(2, **LONG_BACKOFF)
    moved, other = world.clusters
    world.point(moved, world.agents.url_of("old-address"))  # an address where no agent answers (a 404)
    world.agents.script["old-address"] = always((404, {"detail": "Not Found"}))
    world.agents.script[str(other)] = always(BUSY)
    service = world.service()
    airing = world.airing()
    service.hand_off_many([world.programme(airing, cluster) for cluster in world.clusters])
    wait_for(lambda: world.agents.of("old-address") and world.agents.of(other), 60, "the first attempts")

    world.point(moved, world.agents.url_of(str(moved)))  # an admin fixes the address

    def dial_in() -> bool:  # the box dials in: its lane wakes now, not in 300 s
        service.link_changed(str(moved), True)  # (again until then: a wake before the first send began is spent)
        return str(world.order(airing, moved).status) == "accepted"

    wait_for(dial_in, 60, "the woken lane to deliver at the new address", interval=0.2)
    row = world.order(airing, moved)
    assert row.attempts == 2
    wait_for(lambda: world.cluster(moved).link_state == "connected", 60, "the link to be recorded")
    assert [r.order["order_id"] for r in world.agents.of(moved)] == [row.order_id]
    # Only the cluster that came back was woken.
    assert len(world.agents.of(other)) == 1 and str(world.order(airing, other).status) == "queued"
    service.link_changed("not-a-cluster", True)  # a name that is no cluster wakes nothing and breaks nothing
    assert service.lanes.pending_count() == 1


def test_an_order_that_would_expire_during_its_next_wait_is_given_up_at_once_and_an_expired_one_never_sent(
    make_world: WorldFactory,
) -> None:
    world = make_world(2, **LONG_BACKOFF)
    busy, fine = world.clusters
    world.agents.script[str(busy)] = always(BUSY)
    service = world.service()
    soon, gone = world.airing(), world.airing()
    service.hand_off(world.programme(soon, busy, play_in=30, expires_in=30))  # valid a minute, the next wait 300 s
    service.hand_off(world.programme(gone, fine, play_in=-120, expires_in=60))  # expired a minute ago

    row = world.wait_status(soon, busy, "expired")  # not after a 300 s sleep: no retry could make it
    assert row.attempts == 1 and len(world.agents.of(busy)) == 1
    assert "(Cụm loa" in (row.last_error or "")  # the transport's last word is kept
    expired = world.wait_status(gone, fine, "expired")
    assert expired.attempts == 0 and world.agents.of(fine) == []
    assert expired.last_error == "[transport_unavailable] Không gửi được lệnh phát tới cụm loa trước khi hết hạn."


def test_an_emergency_that_arrives_while_an_order_is_being_sent_goes_right_after_that_send(
    make_world: WorldFactory,
) -> None:
    world = make_world(1, **LONG_BACKOFF)
    [cluster] = world.clusters
    answering, release = threading.Event(), threading.Event()

    def agent(order: dict[str, Any], _n: int) -> tuple[int, dict[str, Any]]:
        if order["priority"] == "emergency":
            return STORED
        answering.set()
        release.wait(60)  # the normal order's send is in flight until the emergency is queued
        return BUSY

    world.agents.script[str(cluster)] = agent
    service = world.service()
    normal, emergency = world.airing(), world.airing()
    service.hand_off(world.programme(normal, cluster))
    assert answering.wait(60)
    service.hand_off(world.programme(emergency, cluster, priority=Priority.EMERGENCY))
    assert service.lanes.pending_count() == 2  # queued in the lane while the send waits for its answer
    release.set()

    world.wait_status(emergency, cluster, "accepted")  # the lane did not go to sleep for 300 s first
    assert [r.order["priority"] for r in world.agents.of(cluster)][:2] == ["normal", "emergency"]


@pytest.mark.backends("sqlite")  # (SQLite refuses a write while another holds the lock; PostgreSQL waits for it)
def test_outcomes_the_database_cannot_take_yet_are_kept_and_stored_once_it_can(
    make_world: WorldFactory, caplog: pytest.LogCaptureFixture,
) -> None:
    world = make_world(3, busy_timeout_s=0.2)
    answering, release = threading.Event(), threading.Event()

    def agent(_order: dict[str, Any], _n: int) -> tuple[int, dict[str, Any]]:
        answering.set()
        release.wait(60)
        return STORED

    for cluster in world.clusters:
        world.agents.script[str(cluster)] = agent
    service = world.service()
    airing = world.airing()
    service.hand_off_many([world.programme(airing, cluster) for cluster in world.clusters])
    assert answering.wait(60)
    holder = sqlite3.connect(world.db.engine.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
        release.set()
        wait_for(lambda: "could not record 1 delivery outcome(s) yet" in caplog.text, 120,
                 "the lanes to try the outcomes one by one")
        assert {str(row.status) for row in world.orders(airing)} == {"queued"}
    finally:
        holder.rollback()
        holder.close()
    for cluster in world.clusters:  # kept, and stored a moment later: no outcome lost
        row = world.wait_status(airing, cluster, "accepted")
        assert row.attempts == 1 and str(world.delivery(airing, cluster).state) == "sent"


def test_a_node_that_steps_down_and_leads_again_sends_what_was_left(make_world: WorldFactory) -> None:
    world = make_world(1, **LONG_BACKOFF)
    [cluster] = world.clusters
    world.agents.script[str(cluster)] = always(BUSY)
    standby = world.service(start=False)
    assert standby.pull is None and standby.lanes.pending_count() == 0
    with pytest.raises(RuntimeError):
        standby.lanes.open_transports(["http"])
    service = world.service()
    assert service.pull is not None  # opened at the start: agents may dial in at once
    airing = world.airing()
    service.hand_off(world.programme(airing, cluster))
    wait_for(lambda: world.agents.of(cluster), 60, "the first attempt")

    service.close()  # the scheduler lease moved away
    assert not service.running and service.lanes.pending_count() == 0
    world.agents.script[str(cluster)] = always(STORED)
    service.start()  # and came back

    row = world.wait_status(airing, cluster, "accepted")
    first, again = world.agents.of(cluster)
    assert first.body == again.body == row.envelope.encode()


def test_a_stop_goes_before_an_emergency_queued_with_it_even_with_the_higher_seq(make_world: WorldFactory) -> None:
    world = make_world(1)
    [cluster] = world.clusters
    standby = world.service(start=False)  # stores, sends nothing: both wait in the outbox together
    withdrawn, emergency = world.airing(), world.airing()
    standby.hand_off(world.programme(withdrawn, cluster))
    standby.hand_off(world.programme(emergency, cluster, priority=Priority.EMERGENCY))
    standby.stop(withdrawn, [cluster])
    [_, stop] = world.orders(withdrawn, cluster)
    assert stop.kind == "stop" and stop.seq > world.order(emergency, cluster).seq

    world.service()

    world.wait_status(emergency, cluster, "accepted")
    wait_for(lambda: len(world.agents.of(cluster)) == 2, 60, "both orders to be sent")
    assert [r.order["kind"] for r in world.agents.of(cluster)] == ["stop", "play"]
    assert world.agents.of(cluster)[1].order["priority"] == "emergency"


def test_a_box_that_reconnects_while_a_send_to_it_fails_is_retried_at_once(make_world: WorldFactory) -> None:
    world = make_world(1, **LONG_BACKOFF)
    [cluster] = world.clusters
    sending, reconnected = threading.Event(), threading.Event()

    def agent(_order: dict[str, Any], n: int) -> tuple[int, dict[str, Any]]:
        if n > 1:
            return STORED
        sending.set()
        reconnected.wait(60)  # the first send is still in flight when the box dials in...
        return BUSY  # ...and then fails

    world.agents.script[str(cluster)] = agent
    service = world.service()
    airing = world.airing()
    service.hand_off(world.programme(airing, cluster))
    assert sending.wait(60)
    service.link_changed(str(cluster), True)
    wait_for(lambda: service.lanes.pending_count() == 1, 60, "the wake to reach the lane")  # (queued after it)
    reconnected.set()

    row = world.wait_status(airing, cluster, "accepted")  # the wake was kept: no 300 s backoff after the failure
    assert row.attempts == 2
