"""Emergencies pre-empt, stop orders stop: and whatever was cut short is reported, never lost."""

from __future__ import annotations

import time
from typing import Any

from tests.agent.harness import AgentFactory, FakeServer, OrderMaker, wait_for

PREEMPTION_LIMIT_S = 2.0  # the requirement; the mechanism itself needs one 20 ms chunk


def _end(events: list[dict[str, Any]], label: str) -> dict[str, Any]:
    return next(e for e in events if e["event"] == "end" and e["label"] == label)


def test_emergency_interrupts_a_normal_programme_and_plays(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, short_tone: bytes, long_tone: bytes
) -> None:
    agent = make_agent("thon-1").start()
    normal = maker.order("thon-1", server.add_audio("programme.mp3", long_tone), play_in=1.0)
    assert agent.post(maker.envelope(normal)).status_code == 202
    server.wait_report(normal.order_id, "playing")

    sent = time.time()
    emergency = maker.order("thon-1", server.add_audio("flood.mp3", short_tone), play_in=0.3, priority="emergency")
    assert agent.post(maker.envelope(emergency)).status_code == 202

    played = server.wait_report(emergency.order_id, "played")
    failed = server.wait_report(normal.order_id, "failed")
    assert failed["reason"] == "preempted" and failed["started_at"] and failed["ended_at"]
    events = agent.played()
    cut = _end(events, str(normal.order_id))
    (emergency_start,) = agent.starts(emergency)
    assert cut["completed"] is False and cut["reason"] == "preempted"
    print(f"pre-emption: normal stopped {cut['at'] - sent:.3f} s after the emergency was sent;"
          f" emergency start offset {played['start_offset_ms']:+.1f} ms")
    assert cut["at"] - sent < PREEMPTION_LIMIT_S
    assert emergency_start["at"] >= cut["at"]
    assert _end(events, str(emergency.order_id))["completed"] is True


def test_stop_order_stops_the_airing_and_cancels_its_pending_orders(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, long_tone: bytes
) -> None:
    agent = make_agent("thon-1").start()
    audio = server.add_audio("programme.mp3", long_tone)
    now_playing = maker.order("thon-1", audio, play_in=1.0, airing_id="airing-42")
    repeat = maker.order("thon-1", audio, play_in=20.0, airing_id="airing-42")
    other = maker.order("thon-1", audio, play_in=20.0, airing_id="airing-7")
    for order in (now_playing, repeat, other):
        assert agent.post(maker.envelope(order)).status_code == 202
    server.wait_report(now_playing.order_id, "playing")

    stop = maker.order("thon-1", None, play_in=0.0, kind="stop", airing_id="airing-42")
    assert agent.post(maker.envelope(stop)).status_code == 202

    assert server.wait_report(stop.order_id, "applied")
    assert server.wait_report(now_playing.order_id, "failed")["reason"] == "stopped"
    assert server.wait_report(repeat.order_id, "failed")["reason"] == "cancelled"
    assert _end(agent.played(), str(now_playing.order_id))["completed"] is False
    queue = wait_for(lambda: [q["order_id"] for q in agent.status()["queue"]] == [str(other.order_id)], 5,
                     "only the other airing to remain")
    assert queue
