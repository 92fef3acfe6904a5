"""The fallback chain: engines tried in order, and the first that can speak the whole bulletin wins.

A bulletin is never read in two voices: if the preferred engine fails on any sentence, its audio is
thrown away and the next engine reads every sentence again. The result records which engine and voice
actually spoke, and why the ones before it failed, for the bulletin's metadata and the logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from broadcaster.audio.pcm import Pcm
from broadcaster.errors import InvalidInput
from broadcaster.tts.base import (
    EngineError,
    NothingToSay,
    SynthesisOptions,
    TtsEngine,
    UnknownEngine,
    create_engine,
    engine_names,
)

if TYPE_CHECKING:
    from broadcaster.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class NoEngines(InvalidInput):
    """The chain was given no engine to try (an empty ``engines`` setting)."""

    code = "tts_no_engines"


@dataclass(frozen=True)
class ChainResult:
    """The audio of each sentence, who spoke it, and the engines that failed before it."""

    pcm_per_sentence: list[Pcm]
    engine: str
    voice: str
    failures: list[tuple[str, str]] = field(default_factory=list)  # (engine name, Vietnamese message)


@dataclass(frozen=True)
class VoiceChoice:
    """A voice as a bulletin, a commune or the settings name it: ``engine:voice``, or a bare voice.

    ``piper:vi_VN-vais1000-medium`` puts that engine first with that voice, the rest of the chain
    after it with their own default voices: a bulletin still airs when the chosen voice is gone. A bare
    voice (``vi-vn-x-south``) is offered to every engine of the chain; those that lack it step aside.
    """

    engine: str | None = None
    voice: str | None = None

    @classmethod
    def parse(cls, value: str | None) -> VoiceChoice:
        """Read ``engine:voice``, ``engine:`` or a bare voice; ``UnknownEngine`` for an unknown engine."""
        if not value or not value.strip():
            return cls()
        engine, colon, voice = value.strip().partition(":")
        if not colon:
            return cls(None, engine)
        if engine not in engine_names():
            raise UnknownEngine(
                f"Không có bộ đọc (engine) tên «{engine[:40]}» trong giọng «{value[:120]}».",
                detail=f"unknown engine in voice {value!r}",
            )
        return cls(engine, voice or None)

    def options_for(self, engine: TtsEngine, rate: float = 1.0) -> SynthesisOptions:
        """What ``engine`` is asked: the chosen voice if the choice is for it, else its own default."""
        mine = self.engine is None or self.engine == engine.name
        return SynthesisOptions(voice=self.voice if mine else None, rate=rate)

    def __str__(self) -> str:
        if self.engine is None:
            return self.voice or ""
        return f"{self.engine}:{self.voice or ''}"


class EngineChain:
    """Tries engines in order; the first that speaks every sentence wins."""

    def __init__(self, engines: Sequence[TtsEngine]) -> None:
        if not engines:
            raise NoEngines(
                "Chưa cấu hình bộ đọc nào (engines trống).", detail="EngineChain needs at least one engine"
            )
        self.engines = list(engines)

    @property
    def names(self) -> list[str]:
        """The engine names, in the order they are tried."""
        return [engine.name for engine in self.engines]

    def preferring(self, engine: TtsEngine) -> EngineChain:
        """This chain with ``engine`` tried first (moved there if it is already in the chain)."""
        return EngineChain([engine, *(other for other in self.engines if other.name != engine.name)])

    def first_that_speaks(self, attempt: Callable[[TtsEngine], T]) -> tuple[T, TtsEngine, list[tuple[str, str]]]:
        """Run ``attempt`` with each engine in turn until one does not raise ``EngineError``.

        Returns what it returned, the engine, and the (engine, message) failures before it. Callers
        that cache per engine wrap their cached render in ``attempt``, so a fallback's audio is
        stored under the engine that actually spoke it.
        """
        failures: list[tuple[str, str]] = []
        details: list[str] = []
        for engine in self.engines:
            try:
                return attempt(engine), engine, failures
            except EngineError as exc:
                log.warning("tts: engine %s failed [%s]: %s", engine.name, exc.code, exc.detail or exc.message)
                failures.append((engine.name, exc.message))
                details.append(f"{engine.name}: [{exc.code}] {exc.detail or exc.message}")
        summary = "; ".join(f"{name}: {message}" for name, message in failures)
        raise EngineError(f"Không bộ đọc nào đọc được bản tin. {summary}", detail=" | ".join(details))

    def synthesize(self, sentences: Sequence[str], options: SynthesisOptions | None = None) -> ChainResult:
        """Speak every sentence with one engine; ``EngineError`` naming each failure if none can."""
        chosen = options or SynthesisOptions()
        if not sentences:
            raise NothingToSay("Bản tin không có câu nào để đọc.", detail="no sentences")
        # A blank sentence raises NothingToSay from the first engine: bad input, not an engine failure.
        pcm, engine, failures = self.first_that_speaks(
            lambda engine: [engine.synthesize(sentence, chosen) for sentence in sentences]
        )
        return ChainResult(
            pcm_per_sentence=pcm,
            engine=engine.name,
            voice=chosen.voice or engine.default_voice(),
            failures=failures,
        )

    async def synthesize_async(
        self, sentences: Sequence[str], options: SynthesisOptions | None = None
    ) -> ChainResult:
        """``synthesize`` in a worker thread, for callers inside an event loop."""
        return await asyncio.to_thread(self.synthesize, list(sentences), options)


def build_chain(settings: Settings, names: Sequence[str] | None = None) -> EngineChain:
    """The chain of engines named in ``settings.engines`` (or ``names``), each configured from settings."""
    chosen = list(names) if names is not None else list(settings.engines)
    if not chosen:
        raise NoEngines("Chưa cấu hình bộ đọc nào (engines trống).", detail="settings.engines is empty")
    return EngineChain([create_engine(name, settings=settings) for name in chosen])
