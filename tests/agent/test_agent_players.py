"""Player registry and the null player: really decoded, paced in real time, stoppable."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from broadcaster.agent.players import (
    LoadedAudio,
    Playback,
    PlayerError,
    UnknownPlayer,
    create_player,
    player_names,
)
from broadcaster.agent.players.alsa import PipePlayer
from broadcaster.audio.codec import UnreadableAudio


def test_registry_knows_the_back_ends() -> None:
    assert {"null", "aplay", "ffmpeg"} <= set(player_names())
    with pytest.raises(UnknownPlayer) as caught:
        create_player("gramophone")
    assert "null" in caught.value.message
    with pytest.raises(UnknownPlayer):
        create_player("null", speakers=3)


def test_null_player_decodes_and_applies_volume(short_tone: bytes) -> None:
    loud = create_player("null").load(short_tone)
    quiet = create_player("null", volume=50).load(short_tone)

    assert abs(loud.duration_s - 1.5) < 0.1
    peak = max(abs(int.from_bytes(loud.pcm[i : i + 2], "little", signed=True)) for i in range(0, 20000, 2))
    quiet_peak = max(abs(int.from_bytes(quiet.pcm[i : i + 2], "little", signed=True)) for i in range(0, 20000, 2))
    assert quiet_peak == pytest.approx(peak / 2, rel=0.05)
    # A volume in the order (set on the cluster's page) wins over the configured one.
    ordered = create_player("null", volume=50).load(short_tone, 25)
    ordered_peak = max(abs(int.from_bytes(ordered.pcm[i : i + 2], "little", signed=True)) for i in range(0, 20000, 2))
    assert ordered_peak == pytest.approx(peak / 4, rel=0.05)
    with pytest.raises(UnreadableAudio):
        create_player("null").load(b"this is not audio at all" * 50)


def test_null_player_starts_at_the_instant_and_can_be_stopped(tmp_path: Path, short_tone: bytes) -> None:
    player = create_player("null", log=tmp_path / "log.jsonl")
    audio = player.load(short_tone)
    started: list[float] = []
    playback = Playback("one", time.time() + 0.3, on_start=started.append)
    thread = threading.Thread(target=player.play, args=(audio, playback))
    thread.start()
    time.sleep(0.8)
    playback.request_stop("preempted")
    playback.request_stop("stopped")  # the first reason stands
    thread.join(timeout=2)

    assert not thread.is_alive()
    assert started == [playback.started_at]
    assert playback.started_at is not None and playback.started_at >= playback.start_at
    assert playback.completed is False and playback.stop_reason == "preempted"
    assert playback.ended_at is not None and playback.ended_at - playback.started_at < 1.4
    events = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["start", "end"] and events[1]["reason"] == "preempted"


def test_a_playback_stopped_before_its_start_never_sounds(tmp_path: Path, short_tone: bytes) -> None:
    player = create_player("null", log=tmp_path / "log.jsonl")
    playback = Playback("never", time.time() + 5)
    playback.request_stop("stopped")

    player.play(player.load(short_tone), playback)

    assert playback.started_at is None and playback.completed is False
    assert not (tmp_path / "log.jsonl").exists()


class _StuckDevice(PipePlayer):
    """A real process that never reads its stdin, like a sound device whose buffer is full."""

    name = "stuck"
    program = "sleep"

    def command(self, audio: LoadedAudio) -> list[str]:
        return ["sleep", "30"]


def test_pipe_player_silences_a_blocked_device_on_stop(long_tone: bytes) -> None:
    player = _StuckDevice()
    playback = Playback("blocked", time.time())
    thread = threading.Thread(target=player.play, args=(player.load(long_tone), playback))
    thread.start()
    time.sleep(0.3)  # 4 s of PCM is larger than a pipe buffer: the writer is blocked by now
    stop_requested = time.time()
    playback.request_stop("preempted")
    thread.join(timeout=5)

    assert not thread.is_alive()
    assert playback.started_at is not None and playback.completed is False
    assert playback.ended_at is not None
    print(f"pipe player stopped {playback.ended_at - stop_requested:.3f} s after the request")


def test_alsa_back_end_without_a_device_fails_cleanly(short_tone: bytes) -> None:
    player = create_player("ffmpeg", device="no-such-alsa-device")
    playback = Playback("nowhere", time.time())

    with pytest.raises(PlayerError) as caught:
        player.play(player.load(short_tone), playback)
    assert caught.value.code == "player_failed"
    assert playback.completed is False and playback.ended_at is not None
