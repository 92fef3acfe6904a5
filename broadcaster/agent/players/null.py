"""The null player: sounds nothing, but takes exactly as long as the audio, in real time.

It is what tests and bench runs use: the audio is really decoded (``Player.load``) and
consumed at the sample rate, 20 ms at a time, so start time, duration and interruption behave
as on a real box. With ``log`` set it appends one JSON line per start and per end, which lets a
test see independently of the agent's reports what (if anything) was "played".
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from broadcaster.agent.players.base import (
    BYTES_PER_FRAME,
    LoadedAudio,
    Playback,
    Player,
    register_player,
    wait_until,
)

CHUNK_S = 0.02


@register_player("null")
class NullPlayer(Player):
    """Real-time paced sink into nothing, with an optional JSON-lines log of what it played."""

    name = "null"

    def __init__(self, volume: int = 100, log: str | Path | None = None) -> None:
        super().__init__(volume)
        self._log_path = Path(log) if log else None
        self._log_lock = threading.Lock()

    def play(self, audio: LoadedAudio, playback: Playback) -> None:
        """Wait for the start instant, then consume the audio at real-time pace."""
        if not wait_until(playback.start_at, playback):
            playback.mark_ended(playback.now(), completed=False)
            return
        started = playback.now()
        playback.mark_started(started)
        self._log(event="start", label=playback.label, at=started, planned=playback.start_at,
                  duration_s=audio.duration_s)
        frames = len(audio.pcm) // BYTES_PER_FRAME
        chunk = max(1, int(audio.sample_rate * CHUNK_S))
        completed = True
        for position in range(0, frames, chunk):
            # Each chunk "leaves" when its last sample would have: pace against the start, not
            # the previous chunk, so waits that run long do not add up.
            chunk_end = started + min(position + chunk, frames) / audio.sample_rate
            if playback.wait_stop(max(0.0, chunk_end - playback.now())):
                completed = False
                break
        ended = playback.now()
        playback.mark_ended(ended, completed=completed)
        self._log(event="end", label=playback.label, at=ended, completed=completed, played_s=ended - started,
                  reason=None if completed else playback.stop_reason)

    def _log(self, **entry: Any) -> None:
        if self._log_path is None:
            return
        with self._log_lock, self._log_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
