"""Stand-ins for the cache tests: renderings with distinct bytes, counting producers, a stepping clock."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

from broadcaster.audio.loudness import Loudness
from broadcaster.audio.render import RenderedAudio
from broadcaster.cache import AudioCache

LOUDNESS = Loudness(integrated_lufs=-16.1, true_peak_dbtp=-2.3, duration_s=4.2)


def audio(seed: str, size: int = 4000) -> RenderedAudio:
    """A rendering stand-in: distinct bytes per seed (the cache never decodes them)."""
    block = hashlib.sha256(seed.encode()).digest()
    data = (block * (size // len(block) + 1))[:size]
    return RenderedAudio(data=data, fmt="mp3", loudness=LOUDNESS, info={"text": seed, "engine": "espeak"})


def key_of(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


class Producer:
    """Counts productions (thread-safe) and can be told to fail or to wait."""

    def __init__(self, seed: str = "x", size: int = 4000, delay_s: float = 0.0) -> None:
        self.seed, self.size, self.delay_s = seed, size, delay_s
        self.calls = 0
        self.fail_with: Exception | None = None
        self._lock = threading.Lock()

    def __call__(self) -> RenderedAudio:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        return audio(self.seed, self.size)


class Clock:
    """A clock that advances one second per reading, so LRU order is the order of use."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def small_cache(directory: Path, entries: int) -> AudioCache:
    """A cache that holds ``entries`` entries of 4000 bytes (plus their sidecars)."""
    return AudioCache(directory, entries * 4000 + entries * 900, clock=Clock())
