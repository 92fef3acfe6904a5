"""A valid order is downloaded, played at play_at and reported; heartbeats and status tell the truth."""

from __future__ import annotations

from tests.agent.harness import AgentFactory, FakeServer, OrderMaker, wait_for

# Wide on purpose: a loaded 2-core CI box must not fail this; the measured offsets are printed.
SANE_OFFSET_MS = 1000


def test_valid_order_is_downloaded_played_on_time_and_reported(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    agent = make_agent("thon-1").start()
    audio = server.add_audio("news.mp3", short_tone)
    order = maker.order("thon-1", audio, play_in=2.5)

    response = agent.post(maker.envelope(order))

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "order_id": str(order.order_id), "seq": order.seq}
    played = server.wait_report(order.order_id, "played")
    assert server.stages(order.order_id) == ["received", "downloaded", "playing", "played"]
    offset = played["start_offset_ms"]
    print(f"measured start offset of one agent: {offset:+.1f} ms")
    assert abs(offset) < SANE_OFFSET_MS
    # The null player really paced the audio: it took about as long as the audio lasts.
    (start,) = agent.starts(order)
    assert abs(start["duration_s"] - 1.5) < 0.1
    end = next(e for e in agent.played() if e["event"] == "end" and e["label"] == str(order.order_id))
    assert end["completed"] is True
    assert end["played_s"] >= start["duration_s"] - 0.05
    assert server.auth_failures == 0


def test_heartbeat_and_status_show_what_is_playing(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    agent = make_agent("thon-2", volume=80).start()
    audio = server.add_audio("hb.mp3", short_tone)
    order = maker.order("thon-2", audio, play_in=1.5)
    assert agent.post(maker.envelope(order)).status_code == 202

    status = agent.status()
    assert status["cluster_id"] == "thon-2" and status["last_seq"] == order.seq
    assert [q["order_id"] for q in status["queue"]] == [str(order.order_id)]
    server.wait_report(order.order_id, "playing")
    beat = wait_for(
        lambda: next((h for h in reversed(server.heartbeats) if h["now_playing"]), None), 5, "a playing heartbeat"
    )
    assert beat["status"] == "playing" and beat["volume"] == 80 and beat["cluster_id"] == "thon-2"
    assert beat["now_playing"]["order_id"] == str(order.order_id)
    assert beat["now_playing"]["airing_id"] == order.airing_id
    server.wait_report(order.order_id, "played")
    wait_for(lambda: agent.status()["queue_length"] == 0, 5, "the queue to empty")
    assert agent.terminate() == 0


def test_three_agents_start_together(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    agents = [make_agent(f"cum-{n}") for n in range(3)]
    for agent in agents:
        agent.launch()
    for agent in agents:
        agent.wait_ready()
    audio = server.add_audio("sync.mp3", short_tone)
    orders = [maker.order(a.cluster_id, audio, play_in=2.5) for a in agents]
    play_at = orders[0].play_at
    orders = [o.model_copy(update={"play_at": play_at}) for o in orders]  # one instant for all three

    for agent, order in zip(agents, orders, strict=True):
        assert agent.post(maker.envelope(order)).status_code == 202
    offsets = [server.wait_report(o.order_id, "played")["start_offset_ms"] for o in orders]

    print(f"measured start offsets of three agents: {', '.join(f'{o:+.1f}' for o in offsets)} ms;"
          f" spread {max(offsets) - min(offsets):.1f} ms")
    assert all(abs(o) < SANE_OFFSET_MS for o in offsets)
