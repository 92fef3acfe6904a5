"""Links drop and boxes lose power: no order and no report may be lost."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import httpx

from broadcaster.delivery.orders import LOCAL_ZONE
from tests.agent.harness import SECRET, AgentFactory, FakeServer, OrderMaker, free_port, tone_mp3, wait_for
from tests.fakes.small_disk import fill, small_disk


def _seconds_until(moment: datetime) -> float:
    return moment.timestamp() - datetime.now(LOCAL_ZONE).timestamp()


def test_order_resent_while_agent_was_down_plays_once_it_is_back(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    port = free_port()
    agent = make_agent("thon-1", port=port)
    order = maker.order("thon-1", server.add_audio("a.mp3", short_tone), play_in=5.0)
    envelope = maker.envelope(order)
    attempts: list[int] = []

    def deliver_with_retries() -> None:  # what the server's HTTP transport does
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                attempts.append(httpx.post(f"http://127.0.0.1:{port}/orders", content=envelope, timeout=5).status_code)
                return
            except httpx.TransportError:
                attempts.append(0)
                time.sleep(0.2)

    sender = threading.Thread(target=deliver_with_retries)
    sender.start()
    wait_for(lambda: len(attempts) >= 3, 5, "a few failed deliveries")
    agent.start()
    sender.join()

    assert attempts[0] == 0 and attempts[-1] == 202
    played = server.wait_report(order.order_id, "played")
    print(f"start offset after a late delivery: {played['start_offset_ms']:+.1f} ms")
    assert len(agent.starts(order)) == 1


def test_queue_survives_a_power_cut_and_orders_expired_meanwhile_are_missed(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    agent = make_agent("thon-1").start()
    audio = server.add_audio("b.mp3", short_tone)
    later = maker.order("thon-1", audio, play_in=6.0)
    soon = maker.order("thon-1", audio, play_in=2.0, expires_in=0.5)
    assert agent.post(maker.envelope(later)).status_code == 202
    assert agent.post(maker.envelope(soon)).status_code == 202
    server.wait_report(soon.order_id, "downloaded")
    server.wait_report(later.order_id, "downloaded")

    agent.kill()
    time.sleep(max(0.0, _seconds_until(soon.expires_at)) + 0.2)
    agent.start()

    missed = server.wait_report(soon.order_id, "missed")
    assert missed["reason"] == "expired"
    played = server.wait_report(later.order_id, "played")
    assert server.stages(later.order_id) == ["received", "downloaded", "playing", "played"]
    print(f"start offset after a restart: {played['start_offset_ms']:+.1f} ms")
    assert agent.starts(soon) == []
    assert len(agent.starts(later)) == 1


def test_download_killed_midway_resumes_with_a_range_request(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker
) -> None:
    data = tone_mp3(2.0, 550.0)
    audio = server.add_audio("slow.mp3", data, bytes_per_s=len(data) / 2.5)
    agent = make_agent("thon-1").start()
    order = maker.order("thon-1", audio, play_in=6.0)
    part = agent.state_dir / "audio" / f"{audio.sha256}.part"
    assert agent.post(maker.envelope(order)).status_code == 202
    wait_for(lambda: part.exists() and part.stat().st_size >= len(data) // 4, 10, "a partial download")

    agent.kill()
    partial = part.stat().st_size
    assert 0 < partial < len(data)
    agent.start()

    server.wait_report(order.order_id, "played")
    ranges = [r.range for r in server.audio_requests if r.path == "/audio/slow.mp3"]
    assert ranges[0] is None
    assert ranges[1:] == [f"bytes={partial}-"]
    assert len(agent.starts(order)) == 1


def test_reports_wait_while_the_server_is_unreachable_and_arrive_in_order(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    reports_server = FakeServer(secrets={"thon-1": SECRET}, port=free_port())  # not listening yet
    agent = make_agent("thon-1", server_url=reports_server.url).start()
    order = maker.order("thon-1", server.add_audio("c.mp3", short_tone), play_in=1.0)
    assert agent.post(maker.envelope(order)).status_code == 202

    # It plays although nobody hears its reports.
    wait_for(lambda: any(e["event"] == "end" for e in agent.played()), 10, "the playback to end")
    assert agent.status()["reports_pending"] >= 4
    reports_server.start()
    try:
        reports_server.wait_report(order.order_id, "played")
        assert reports_server.stages(order.order_id) == ["received", "downloaded", "playing", "played"]
        seqs = [r["seq"] for r in reports_server.reports]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        wait_for(lambda: agent.status()["reports_pending"] == 0, 5, "the outbox to empty")
        assert reports_server.auth_failures == 0
    finally:
        reports_server.stop()


def test_a_heartbeat_that_gets_through_flushes_the_reports_without_waiting_out_the_backoff(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    reports_server = FakeServer(secrets={"thon-1": SECRET}, port=free_port())  # not listening yet
    # A backoff far longer than the test: only the heartbeat can bring the reports out.
    agent = make_agent("thon-1", server_url=reports_server.url, retry_initial_s=600.0, retry_max_s=600.0).start()
    order = maker.order("thon-1", server.add_audio("d.mp3", short_tone), play_in=1.0)
    assert agent.post(maker.envelope(order)).status_code == 202
    wait_for(lambda: agent.status()["reports_pending"] >= 4, 10, "reports queued while the server is away")
    reports_server.start()
    try:
        reports_server.wait_report(order.order_id, "played")
        assert reports_server.heartbeats, "the heartbeat went first and woke the reports"
        wait_for(lambda: agent.status()["reports_pending"] == 0, 5, "the outbox to empty")
    finally:
        reports_server.stop()


def test_a_full_agent_disk_shows_in_its_heartbeats_and_status_with_the_reason(
    make_agent: AgentFactory, server: FakeServer
) -> None:
    agent = make_agent("thon-1", min_free_disk_bytes=2 * 1024**2)
    with small_disk(agent.state_dir, size_mb=16) as disk:
        agent.start()
        assert agent.status()["health"] == "ok"
        filler = fill(disk)
        degraded = wait_for(lambda: next((h for h in server.heartbeats[-3:] if h["health"] == "degraded"), None),
                            10, "a heartbeat saying the agent is degraded")
        assert "storage_full" in [p["code"] for p in degraded["problems"]]
        assert degraded["free_disk_bytes"] < 1024**2
        assert agent.status()["health"] == "degraded"
        filler.unlink()
        wait_for(lambda: server.heartbeats[-1]["health"] == "ok", 10, "the agent healthy again")
        agent.kill()


def test_stored_audio_damaged_after_download_is_fetched_again_and_plays_once(
    make_agent: AgentFactory, server: FakeServer, maker: OrderMaker, short_tone: bytes
) -> None:
    agent = make_agent("thon-1").start()
    audio = server.add_audio("e.mp3", short_tone)
    order = maker.order("thon-1", audio, play_in=5.0)
    assert agent.post(maker.envelope(order)).status_code == 202
    server.wait_report(order.order_id, "downloaded")
    stored = agent.state_dir / "audio" / f"{audio.sha256}.audio"
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte on the SD card
    stored.write_bytes(bytes(data))

    server.wait_report(order.order_id, "played")
    assert [r.path for r in server.audio_requests].count("/audio/e.mp3") == 2  # downloaded again
    assert len(agent.starts(order)) == 1
    assert "damaged on disk" in agent.log_text()
