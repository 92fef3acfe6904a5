"""The conductor, in process: each accepted order is fetched, played, stopped or resumed, and reported.

Real parts: the agent's SQLite store and report outbox, the audio fetcher downloading from a real
HTTP server on 127.0.0.1 (the stand-in server of tests/agent/harness.py), the null player (real
decoding, real-time pace) and the server-clock estimate. The box's clock runs 45 s ahead of the
server's here, so every wait must go through the clock conversion. Reports are never sent (the
server URL leads nowhere): the test reads them from the outbox, where the agent keeps them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.agent.clock import ServerClock
from broadcaster.agent.conductor import Conductor, Timing
from broadcaster.agent.config import AgentConfig
from broadcaster.agent.download import AudioFetcher
from broadcaster.agent.players.base import create_player
from broadcaster.agent.players.null import NullPlayer
from broadcaster.agent.reporting import Reporter, ServerClient
from broadcaster.agent.retry import Backoff
from broadcaster.agent.store import AgentStore, OrderState
from broadcaster.delivery.orders import LOCAL_ZONE, PlayOrder, canonical_bytes
from tests.agent.harness import Audio, FakeServer, OrderMaker, tone_mp3

SKEW_S = -45.0  # server time − box time: the box runs 45 s fast
# What the broadcast log shows for each reason (literal: a test must notice a changed text).
EXPIRED = "Quá hạn phát trước khi kịp phát."
PREEMPTED = "Bị ngắt để phát tin khẩn cấp."
STOPPED = "Đã dừng theo lệnh dừng của máy chủ."
CANCELLED = "Đã hủy theo lệnh dừng của máy chủ trước khi phát."
INTERRUPTED = "Bị gián đoạn vì cụm loa tắt hoặc khởi động lại."
AGENT_ERROR = "Lỗi trong phần mềm cụm loa."


@pytest.fixture(scope="module")
def tone() -> bytes:
    """0.6 s of MP3: an airing that ends on its own."""
    return tone_mp3(0.6)


@pytest.fixture(scope="module")
def mid_tone() -> bytes:
    """3 s of MP3: an airing that keeps the horns busy for a while."""
    return tone_mp3(3.0, 550.0)


@pytest.fixture(scope="module")
def long_tone() -> bytes:
    """10 s of MP3: an airing surely still sounding (even on a busy machine) when something interrupts it."""
    return tone_mp3(10.0, 330.0)


@dataclass
class Stage:
    """A conductor wired to real agent parts, and what the test needs to watch it."""

    conductor: Conductor
    store: AgentStore
    clock: ServerClock
    server: FakeServer
    maker: OrderMaker
    audio_dir: Path
    played_log: Path

    def order(self, audio: Audio | None, *, play_in: float, expires_in: float = 60.0, **fields: Any) -> PlayOrder:
        """A signed-format order for thon-1 in *server* time."""
        now = datetime.fromtimestamp(self.clock.now(), LOCAL_ZONE)
        return self.maker.order("thon-1", audio, play_at=now + timedelta(seconds=play_in),
                                expires_at=now + timedelta(seconds=play_in + expires_in), issued_at=now, **fields)

    def submit(self, order: PlayOrder) -> PlayOrder:
        """Store the order as intake does, and hand it over."""
        self.store.accept(order, canonical_bytes(order.wire()).decode())
        self.conductor.submit(order)
        return order

    def reports(self, order: PlayOrder | None = None) -> list[dict[str, Any]]:
        """Reports queued in the outbox (of one order), oldest first."""
        every = [json.loads(body) for _, body in self.store.outbox_batch(1000)]
        return [r for r in every if order is None or r["order_id"] == str(order.order_id)]

    def stages(self, order: PlayOrder) -> list[str]:
        return [r["stage"] for r in self.reports(order)]

    def final(self, order: PlayOrder) -> dict[str, Any] | None:
        return next((r for r in self.reports(order) if r["stage"] in ("played", "failed", "missed", "applied")), None)

    def played(self) -> list[dict[str, Any]]:
        if not self.played_log.exists():
            return []
        return [json.loads(line) for line in self.played_log.read_text().splitlines() if line.strip()]


async def until(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition`` on the event loop until it is truthy; fail after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def _stage_factory(tmp_path: Path, server: FakeServer, maker: OrderMaker, http: httpx.AsyncClient,
                   timing: Timing, player: Any = None) -> Stage:
    store = AgentStore(tmp_path / "agent.sqlite3")
    clock = ServerClock(SKEW_S)
    backoff = Backoff(0.1, 0.2)
    client = ServerClient(http, "http://127.0.0.1:1", "thon-1", Ed25519PrivateKey.generate(), clock)
    reporter = Reporter(store, client, "thon-1", backoff)
    audio_dir = tmp_path / "audio"
    played_log = tmp_path / "played.jsonl"
    conductor = Conductor(store=store, fetcher=AudioFetcher(audio_dir, http, backoff),
                          player=player or NullPlayer(log=played_log), reporter=reporter, timing=timing, clock=clock)
    return Stage(conductor, store, clock, server, maker, audio_dir, played_log)


@pytest.fixture
async def stage(tmp_path: Path, server: FakeServer, maker: OrderMaker) -> AsyncIterator[Stage]:
    """The conductor with long leads (decode 6 s, hand over 5 s before play_at): on time even on a busy machine."""
    async with httpx.AsyncClient() as http:
        built = _stage_factory(tmp_path, server, maker, http, Timing(prepare_lead_s=6.0, start_lead_s=5.0))
        yield built
        await built.conductor.shutdown(grace_s=1.0)
    built.store.close()


async def test_a_play_order_is_fetched_played_on_server_time_and_reported(stage: Stage, tone: bytes) -> None:
    audio = stage.server.add_audio("a.mp3", tone)
    order = stage.submit(stage.order(audio, play_in=8.0, volume=60))
    assert stage.conductor.queue_length() == 1 and stage.conductor.now_playing() is None

    played = await until(lambda: stage.final(order), "the order to finish")

    assert stage.stages(order) == ["downloaded", "playing", "played"]
    assert played["reason"] is None and played["message"] is None
    started = datetime.fromisoformat(played["started_at"])
    assert started >= order.play_at - timedelta(milliseconds=50)  # never early, on the server's clock
    assert datetime.fromisoformat(played["ended_at"]) > started
    playing = next(r for r in stage.reports(order) if r["stage"] == "playing")
    assert playing["started_at"] == played["started_at"]
    start = next(e for e in stage.played() if e["event"] == "start")
    assert start["planned"] == pytest.approx(order.play_at.timestamp() - SKEW_S, abs=1e-3)  # the box's own time
    assert stage.store.state_of(order) is OrderState.PLAYED and stage.conductor.queue_length() == 0
    assert stage.conductor.volume == 60  # the volume the server set, now in force
    assert list(stage.audio_dir.iterdir()) == []  # nothing active needs the audio: the card is kept clear


async def test_an_order_already_expired_is_missed_without_a_download(stage: Stage, tone: bytes) -> None:
    audio = stage.server.add_audio("a.mp3", tone)
    order = stage.submit(stage.order(audio, play_in=-30, expires_in=10))

    missed = await until(lambda: stage.final(order), "the order to be missed")

    assert (missed["stage"], missed["reason"], missed["message"]) == ("missed", "expired", EXPIRED)
    assert stage.store.state_of(order) is OrderState.MISSED and stage.server.audio_requests == []
    assert stage.conductor.volume is None


async def test_audio_that_cannot_be_fetched_is_retried_until_the_order_expires(stage: Stage) -> None:
    missing = Audio(f"{stage.server.url}/audio/missing.mp3", "ab" * 32, 1000)
    order = stage.submit(stage.order(missing, play_in=0.5, expires_in=6.0))

    failed = await until(lambda: stage.final(order), "the download to be given up")

    assert (failed["stage"], failed["reason"]) == ("failed", "audio_download_failed")
    assert failed["message"] == "Không tải được âm thanh trước hạn phát."
    assert len(stage.server.audio_requests) >= 2  # retried while the order lasted, not given up at once
    assert stage.store.state_of(order) is OrderState.FAILED


async def test_a_stop_stops_what_plays_cancels_what_waits_and_spares_its_replacement(
        stage: Stage, tone: bytes, long_tone: bytes) -> None:
    short, long = stage.server.add_audio("a.mp3", tone), stage.server.add_audio("b.mp3", long_tone)
    other_airing = stage.order(short, play_in=600, airing_id="airing-2", seq=1)
    sounding = stage.order(long, play_in=1.0, airing_id="airing-1", seq=2)
    waiting = stage.order(short, play_in=600, airing_id="airing-1", seq=3)
    stop = stage.order(None, play_in=0, kind="stop", airing_id="airing-1", seq=4)
    replacement = stage.order(short, play_in=600, airing_id="airing-1", seq=5)  # sent right after the stop
    for order in (other_airing, sounding, waiting, stop, replacement):
        stage.store.accept(order, canonical_bytes(order.wire()).decode())
    # The stop looks at every job in turn: orders it must spare come first, so it must go past them.
    for order in (other_airing, replacement, sounding, waiting):
        stage.conductor.submit(order)
    await until(lambda: "playing" in stage.stages(sounding), "the first order to sound")
    assert stage.conductor.now_playing() is not None
    stage.conductor.submit(stop)

    applied = await until(lambda: stage.final(stop), "the stop to be applied")
    await until(lambda: stage.final(sounding) and stage.final(waiting), "both orders to end")

    assert (applied["stage"], applied["message"]) == ("applied", "Đã dừng/hủy 2 lệnh phát của buổi phát này.")
    assert (stage.final(sounding)["reason"], stage.final(sounding)["message"]) == ("stopped", STOPPED)
    assert stage.final(sounding)["started_at"] is not None
    assert (stage.final(waiting)["reason"], stage.final(waiting)["message"]) == ("cancelled", CANCELLED)
    assert stage.store.state_of(stop) is OrderState.APPLIED
    assert stage.store.state_of(waiting) is OrderState.FAILED
    assert [entry["order_id"] for entry in stage.conductor.queue()] == [str(other_airing.order_id),
                                                                       str(replacement.order_id)]
    assert stage.final(other_airing) is None and stage.final(replacement) is None


async def test_a_stop_waits_for_its_own_time(stage: Stage, tone: bytes) -> None:
    order = stage.submit(stage.order(stage.server.add_audio("a.mp3", tone), play_in=2.0, airing_id="airing-1"))
    stop = stage.submit(stage.order(None, play_in=600, kind="stop", airing_id="airing-1"))

    played = await until(lambda: stage.final(order), "the order to finish")

    assert played["stage"] == "played" and stage.final(stop) is None
    assert [entry["order_id"] for entry in stage.conductor.queue()] == [str(stop.order_id)]


async def test_a_stop_before_the_first_sample_cancels_an_order_already_handed_to_the_player(
        tmp_path: Path, server: FakeServer, maker: OrderMaker, tone: bytes) -> None:
    async with httpx.AsyncClient() as http:
        # Handed to the player a minute before play_at: a stop in that window finds it "playing" but silent.
        stage = _stage_factory(tmp_path, server, maker, http, Timing(prepare_lead_s=61.0, start_lead_s=60.0))
        try:
            order = stage.submit(stage.order(server.add_audio("a.mp3", tone), play_in=60, airing_id="airing-1"))
            await until(lambda: [e["state"] for e in stage.conductor.queue()] == ["playing"], "the hand-over")
            assert stage.conductor.now_playing() is None  # holding the horns, no sound yet
            stage.submit(stage.order(None, play_in=0, kind="stop", airing_id="airing-1"))
            failed = await until(lambda: stage.final(order), "the order to end")
        finally:
            await stage.conductor.shutdown(grace_s=1.0)
            stage.store.close()
    assert (failed["reason"], failed.get("started_at")) == ("cancelled", None)
    assert [e for e in stage.played() if e["event"] == "start"] == []


async def test_an_emergency_preempts_a_normal_airing(stage: Stage, tone: bytes, long_tone: bytes) -> None:
    normal = stage.submit(stage.order(stage.server.add_audio("b.mp3", long_tone), play_in=0.8))
    await until(lambda: "playing" in stage.stages(normal), "the normal airing to sound")
    assert stage.store.state_of(normal) is OrderState.PLAYING
    sounding = stage.conductor.now_playing()
    assert sounding is not None and (sounding.order_id, sounding.priority) == (normal.order_id, "normal")
    assert sounding.started_at is not None and sounding.started_at >= normal.play_at - timedelta(milliseconds=50)
    [entry] = stage.conductor.queue()
    assert entry == {"order_id": str(normal.order_id), "seq": normal.seq, "airing_id": normal.airing_id,
                     "kind": "play", "priority": "normal", "play_at": normal.play_at.isoformat(), "state": "playing"}
    urgent = stage.submit(stage.order(stage.server.add_audio("a.mp3", tone), play_in=0.5, priority="emergency"))

    await until(lambda: stage.final(urgent), "the emergency to play")

    assert (stage.final(normal)["reason"], stage.final(normal)["message"]) == ("preempted",
                                                                               PREEMPTED)
    assert stage.final(normal)["started_at"] is not None and stage.final(urgent)["stage"] == "played"


async def test_the_queue_lists_unfinished_orders_soonest_first(stage: Stage, tone: bytes) -> None:
    audio = stage.server.add_audio("a.mp3", tone)
    later = stage.submit(stage.order(audio, play_in=900))
    sooner = stage.submit(stage.order(audio, play_in=600, priority="priority"))
    await until(lambda: "downloaded" in stage.stages(later) and "downloaded" in stage.stages(sooner), "downloads")

    queue = stage.conductor.queue()
    assert [entry["order_id"] for entry in queue] == [str(sooner.order_id), str(later.order_id)]
    assert queue[0] == {"order_id": str(sooner.order_id), "seq": sooner.seq, "airing_id": sooner.airing_id,
                        "kind": "play", "priority": "priority", "play_at": sooner.play_at.isoformat(),
                        "state": "downloaded"}
    assert stage.store.state_of(sooner) is OrderState.DOWNLOADED and stage.conductor.queue_length() == 2


async def test_shutdown_interrupts_what_sounds_and_keeps_the_rest_for_the_next_start(
        stage: Stage, tone: bytes, long_tone: bytes) -> None:
    sounding = stage.submit(stage.order(stage.server.add_audio("b.mp3", long_tone), play_in=0.8))
    pending = stage.submit(stage.order(stage.server.add_audio("a.mp3", tone), play_in=600))
    await until(lambda: "playing" in stage.stages(sounding) and "downloaded" in stage.stages(pending), "the start")

    # A long grace: shutdown waits only for what sounds (stopped at once), never for orders still waiting.
    await stage.conductor.shutdown(grace_s=600.0)

    interrupted = stage.final(sounding)
    assert (interrupted["reason"], interrupted["message"]) == ("interrupted", INTERRUPTED)
    assert stage.store.state_of(sounding) is OrderState.FAILED
    assert stage.final(pending) is None and stage.store.state_of(pending) is OrderState.DOWNLOADED
    assert stage.conductor.queue_length() == 0


async def test_resume_fails_what_was_sounding_and_carries_on_with_the_rest(stage: Stage, tone: bytes) -> None:
    audio = stage.server.add_audio("a.mp3", tone)
    cut_off = stage.order(audio, play_in=-5)
    waiting = stage.order(audio, play_in=1.0)
    for order in (cut_off, waiting):
        stage.store.accept(order, canonical_bytes(order.wire()).decode())
    stage.store.set_state(cut_off, OrderState.PLAYING)  # the box died while it sounded
    stage.audio_dir.mkdir(exist_ok=True)
    leftover = stage.audio_dir / f"{'ef' * 32}.audio"
    leftover.write_bytes(b"audio no order needs any more")

    await stage.conductor.resume()

    assert not leftover.exists()  # the card is cleared of audio nobody needs
    interrupted = stage.final(cut_off)
    assert (interrupted["stage"], interrupted["reason"]) == ("failed", "interrupted")
    assert stage.store.state_of(cut_off) is OrderState.FAILED
    assert stage.conductor.queue_length() == 1
    await until(lambda: stage.final(waiting), "the resumed order to play")
    assert stage.stages(waiting) == ["downloaded", "playing", "played"]


async def test_audio_damaged_on_the_card_after_download_is_fetched_again(tmp_path: Path, server: FakeServer,
                                                                         maker: OrderMaker, tone: bytes) -> None:
    async with httpx.AsyncClient() as http:
        stage = _stage_factory(tmp_path, server, maker, http, Timing(prepare_lead_s=0.3, start_lead_s=0.2))
        try:
            audio = server.add_audio("a.mp3", tone)
            order = stage.submit(stage.order(audio, play_in=12.0))  # decoded 0.3 s before: time to damage it
            await until(lambda: "downloaded" in stage.stages(order), "the download")
            stored = stage.audio_dir / f"{audio.sha256}.audio"
            stored.write_bytes(b"\0" * audio.size)  # the SD card flipped it after the check
            played = await until(lambda: stage.final(order), "the order to finish")
            assert played["stage"] == "played"
            assert [r.path for r in server.audio_requests] == ["/audio/a.mp3", "/audio/a.mp3"]
            assert stage.stages(order).count("downloaded") == 1
        finally:
            await stage.conductor.shutdown(grace_s=1.0)
            stage.store.close()


async def test_an_order_kept_waiting_for_the_horns_plays_late_or_is_missed(stage: Stage, tone: bytes,
                                                                           mid_tone: bytes) -> None:
    first = stage.submit(stage.order(stage.server.add_audio("b.mp3", mid_tone), play_in=1.0, priority="priority"))
    await until(lambda: "playing" in stage.stages(first), "the first airing to sound")
    short = stage.server.add_audio("a.mp3", tone)
    late = stage.submit(stage.order(short, play_in=0.5, expires_in=600))  # waits for the horns: plays late
    missed = stage.submit(stage.order(short, play_in=0.6, expires_in=2.0))  # expires while it waits

    await until(lambda: stage.final(late) and stage.final(missed), "the late order to play, the other to be missed",
                timeout=60)

    assert (stage.final(missed)["stage"], stage.final(missed)["reason"]) == ("missed", "expired")
    assert stage.final(missed)["message"] == EXPIRED and stage.store.state_of(missed) is OrderState.MISSED
    assert stage.final(first)["stage"] == "played" and stage.final(late)["stage"] == "played"
    # It could not start before the first airing's 3 s were over: started at once then, not at play_at.
    start = next(e for e in stage.played() if e["event"] == "start" and e["label"] == str(late.order_id))
    assert start["planned"] >= late.play_at.timestamp() - SKEW_S + 2.5


async def test_a_player_failure_fails_the_order_with_its_code(tmp_path: Path, server: FakeServer,
                                                              maker: OrderMaker, tone: bytes) -> None:
    player = create_player("ffmpeg", device="no-such-alsa-device")  # a real back end, no such sound card
    async with httpx.AsyncClient() as http:
        stage = _stage_factory(tmp_path, server, maker, http, Timing(prepare_lead_s=1.0, start_lead_s=0.5), player)
        try:
            order = stage.submit(stage.order(server.add_audio("a.mp3", tone), play_in=1.5))
            failed = await until(lambda: stage.final(order), "the order to fail")
            assert (failed["stage"], failed["reason"]) == ("failed", "player_failed")
            assert failed["message"] and stage.store.state_of(order) is OrderState.FAILED
        finally:
            await stage.conductor.shutdown(grace_s=1.0)
            stage.store.close()


async def test_an_unexpected_error_fails_the_order_as_an_agent_error(tmp_path: Path, server: FakeServer,
                                                                     maker: OrderMaker, tone: bytes) -> None:
    unwritable = tmp_path / "played-log-is-a-folder"
    unwritable.mkdir()  # the null player cannot append its log there: an OSError inside the agent
    async with httpx.AsyncClient() as http:
        stage = _stage_factory(tmp_path, server, maker, http, Timing(prepare_lead_s=1.0, start_lead_s=0.5),
                               NullPlayer(log=unwritable))
        try:
            order = stage.submit(stage.order(server.add_audio("a.mp3", tone), play_in=1.5))
            failed = await until(lambda: stage.final(order), "the order to fail")
            assert (failed["stage"], failed["reason"], failed["message"]) == ("failed", "agent_error", AGENT_ERROR)
            assert stage.store.state_of(order) is OrderState.FAILED and stage.conductor.queue_length() == 0
        finally:
            await stage.conductor.shutdown(grace_s=1.0)
            stage.store.close()


def test_the_default_leads_are_the_agent_configs() -> None:
    # Two places hold the same defaults: the conductor's and the agent's configuration file.
    config = AgentConfig.model_fields
    assert (Timing().prepare_lead_s, Timing().start_lead_s) == (config["prepare_lead_s"].default,
                                                                config["start_lead_s"].default)
