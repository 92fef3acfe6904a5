"""The player interface, its registry and its errors.

A player is synchronous and simple: ``play`` blocks in a worker thread, waits for the exact
start instant, sounds decoded PCM and returns when the audio ended or a stop was requested.
Decoding is shared (ffmpeg, from bytes whose sha256 was just checked), so back-ends only differ
in where the samples go: nowhere at real-time pace (``null``), or to ALSA (``aplay``, ``ffmpeg``).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from broadcaster.audio.codec import decode_audio
from broadcaster.audio.pcm import Pcm
from broadcaster.errors import InvalidInput, ServiceFailure

BYTES_PER_FRAME = 2  # s16le mono
# Below this much time left, sleeping overshoots on a busy box: spin instead.
_SPIN_S = 0.002


class PlayerError(ServiceFailure):
    """The back-end could not sound the audio (device missing, process died, ...)."""

    code = "player_failed"


class UnknownPlayer(InvalidInput):
    """No player is registered under this name."""

    code = "player_unknown"


@dataclass(frozen=True)
class LoadedAudio:
    """Decoded audio ready to sound: little-endian 16-bit mono PCM."""

    pcm: bytes
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.pcm) / BYTES_PER_FRAME / self.sample_rate


class Playback:
    """One playback, shared by the agent (event loop) and the player's thread."""

    def __init__(self, label: str, start_at: float, on_start: Callable[[float], None] | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.label = label
        self.start_at = start_at  # the wanted first sample, on the box's clock (Unix seconds)
        self.now = clock  # the box's clock: what start_at and every measured instant are read on
        self._on_start = on_start
        self._stop = threading.Event()
        self.stop_reason: str | None = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.completed = False

    def request_stop(self, reason: str) -> None:
        """Ask the player to stop (or never start); the first reason given wins."""
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether someone asked this playback to stop."""
        return self._stop.is_set()

    def wait_stop(self, timeout: float | None) -> bool:
        """Block up to ``timeout`` seconds; True as soon as a stop is requested."""
        return self._stop.wait(timeout)

    def mark_started(self, at: float) -> None:
        """Called by the player at the measured instant the first sample went out."""
        self.started_at = at
        if self._on_start is not None:
            self._on_start(at)

    def mark_ended(self, at: float, *, completed: bool) -> None:
        """Called by the player when sound ended (or it gave up before starting)."""
        self.ended_at = at
        self.completed = completed


def wait_until(deadline: float, playback: Playback) -> bool:
    """Sleep, then spin, until Unix time ``deadline``; False if a stop came first."""
    while True:
        remaining = deadline - playback.now()
        if remaining <= 0:
            return not playback.stop_requested
        if remaining > 0.02:
            if playback.wait_stop(remaining - 0.01):
                return False
        elif remaining > _SPIN_S:
            time.sleep(0.0005)
        elif playback.stop_requested:
            return False


class Player(ABC):
    """A play back-end. Subclasses set ``name`` and implement ``play``."""

    name: ClassVar[str]

    def __init__(self, volume: int = 100) -> None:
        self.gain = max(0, min(volume, 100)) / 100

    def load(self, data: bytes, volume: int | None = None) -> LoadedAudio:
        """Decode checked audio bytes (any format ffmpeg reads) at ``volume`` (0–100; None: the configured one)."""
        pcm = decode_audio(data)
        gain = self.gain if volume is None else max(0, min(volume, 100)) / 100
        if gain != 1.0:
            pcm = Pcm((pcm.samples * np.float32(gain)).astype(np.float32), pcm.sample_rate)
        return LoadedAudio(pcm.to_int16(), pcm.sample_rate)

    @abstractmethod
    def play(self, audio: LoadedAudio, playback: Playback) -> None:
        """Block: wait for ``playback.start_at``, sound ``audio``, return at its end or on a stop.

        Calls ``playback.mark_started`` with the measured start (unless stopped before) and always
        ``playback.mark_ended``. Raises ``PlayerError`` if the back-end fails.
        """


PlayerFactory = Callable[..., Player]
_REGISTRY: dict[str, PlayerFactory] = {}


def register_player(name: str) -> Callable[[PlayerFactory], PlayerFactory]:
    """Class decorator: make a player available by name."""

    def decorate(factory: PlayerFactory) -> PlayerFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def player_names() -> list[str]:
    """Names of all registered players."""
    _load_builtin_players()
    return sorted(_REGISTRY)


def create_player(name: str, **options: Any) -> Player:
    """Instantiate a registered player; ``UnknownPlayer`` names the choices."""
    _load_builtin_players()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownPlayer(
            f"Không có bộ phát tên «{name}». Các bộ phát có: {', '.join(sorted(_REGISTRY))}.",
            detail=f"unknown player {name!r}",
        ) from None
    try:
        return factory(**options)
    except TypeError as error:
        raise UnknownPlayer(
            f"Tùy chọn không hợp lệ cho bộ phát «{name}».", code="player_options_invalid", detail=str(error)
        ) from None


def _load_builtin_players() -> None:
    # Importing the modules registers them; done lazily so importing the base costs nothing.
    import importlib

    for module in ("null", "alsa"):
        importlib.import_module(f"broadcaster.agent.players.{module}")
