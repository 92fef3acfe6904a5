"""The TTS engine interface, its registry and its errors.

An engine is synchronous and simple: one method turns a piece of already-normalized
Vietnamese text into PCM. Callers that live in an event loop offload it with
``asyncio.to_thread``; the fallback chain turns engine failures into the next engine's turn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from broadcaster.audio.pcm import Pcm
from broadcaster.errors import InvalidInput, ServiceFailure


class EngineError(ServiceFailure):
    """An engine could not speak this text; another engine may."""

    code = "tts_engine_failed"


class EngineUnavailable(EngineError):
    """The engine cannot run here at all (library missing, no network, ...)."""

    code = "tts_engine_unavailable"


class UnknownEngine(InvalidInput):
    """No engine is registered under this name."""

    code = "tts_unknown_engine"


class UnknownVoice(EngineError, InvalidInput):
    """This engine has no such voice.

    Both an ``EngineError`` (so a fallback chain moves on to an engine that has the voice) and an
    ``InvalidInput`` (so a single-engine caller reports it as the user's choice, HTTP 422).
    """

    code = "tts_unknown_voice"
    status = 422


class NothingToSay(InvalidInput):
    """The text is empty or only whitespace: no engine can speak it."""

    code = "tts_nothing_to_say"


class InvalidRate(InvalidInput):
    """The speaking-rate factor is outside what the engines can do."""

    code = "tts_invalid_rate"


# Speaking-rate factors every engine accepts (relative to its announcer pace).
MIN_RATE = 0.5
MAX_RATE = 2.0


@dataclass(frozen=True)
class SynthesisOptions:
    """What an engine may be asked besides the text. Part of the cache key, so keep it small."""

    voice: str | None = None  # engine-specific voice name; None means the engine's Vietnamese default
    rate: float = 1.0  # speaking-rate factor; 1.0 is the engine's natural announcer pace
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked here, at the boundary, so no engine ever sees a nonsensical rate.
        if not MIN_RATE <= self.rate <= MAX_RATE:
            raise InvalidRate(
                f"Tốc độ đọc phải từ {_vi_number(MIN_RATE)} đến {_vi_number(MAX_RATE)} lần tốc độ thường"
                f" (nhận được {_vi_number(self.rate)}).",
                detail=f"rate {self.rate!r} outside [{MIN_RATE}, {MAX_RATE}]",
            )

    def cache_fields(self) -> dict[str, Any]:
        """The options as plain JSON-able data, for hashing."""
        return {"voice": self.voice, "rate": self.rate, "extra": dict(sorted(self.extra.items()))}


def _vi_number(value: float) -> str:
    # Vietnamese writes a decimal comma.
    return f"{value:g}".replace(".", ",")


@dataclass(frozen=True)
class VoiceListing:
    """One voice an engine offers, as ``broadcaster voices`` and the compose page show it."""

    engine: str
    name: str
    usable: bool
    problem: str | None = None  # why it is not usable (Vietnamese), naming the file when there is one
    language: str | None = None
    sample_rate: int | None = None
    size_bytes: int | None = None
    licence: str | None = None
    dataset: str | None = None
    path: Path | None = None
    note: str | None = None  # e.g. "needs the Internet"

    @property
    def choice(self) -> str:
        """The qualified name a bulletin or a commune stores: ``engine:voice``."""
        return f"{self.engine}:{self.name}"


class TtsEngine(ABC):
    """A speech engine. Subclasses set ``name`` and implement ``synthesize``."""

    name: ClassVar[str]
    # Whether the engine needs the Internet; the fallback chain puts offline engines last-resort.
    online: ClassVar[bool] = False

    @abstractmethod
    def synthesize(self, text: str, options: SynthesisOptions) -> Pcm:
        """Speak ``text`` (already normalized, one or a few sentences) and return mono PCM.

        Raises ``EngineError`` (or a subclass) on any failure; never returns empty audio.
        """

    def default_voice(self) -> str:
        """The voice used when options.voice is None (recorded in metadata and cache keys)."""
        return "vi"

    def voice_identity(self, voice: str) -> dict[str, str]:
        """What, besides its name, decides how ``voice`` sounds (e.g. a model file's sha256), for cache keys.

        Engines whose voices ship with a package return nothing; engines that read operator-supplied
        voice files return their hashes, so replacing a file re-renders instead of serving old audio.
        """
        return {}

    def list_voices(self) -> list[VoiceListing]:
        """The voices this engine offers here, usable or not and why."""
        return [VoiceListing(engine=self.name, name=self.default_voice(), usable=True, language="vi")]


EngineFactory = Callable[..., TtsEngine]
_REGISTRY: dict[str, EngineFactory] = {}


def register_engine(name: str) -> Callable[[EngineFactory], EngineFactory]:
    """Class decorator: make an engine available by name.

    Factories take keyword arguments only, and accept ``settings`` (a ``Settings`` or None): the chain
    builder passes it so each engine reads its own fields (timeouts, URLs) from the one Settings object.
    """

    def decorate(factory: EngineFactory) -> EngineFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


def engine_names() -> list[str]:
    """Names of all registered engines."""
    _load_builtin_engines()
    return sorted(_REGISTRY)


def create_engine(name: str, **kwargs: Any) -> TtsEngine:
    """Instantiate a registered engine; ``UnknownEngine`` names the choices."""
    _load_builtin_engines()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        choices = ", ".join(sorted(_REGISTRY))
        raise UnknownEngine(
            f"Không có bộ đọc (engine) tên «{name}». Các bộ đọc có: {choices}.",
            detail=f"unknown engine {name!r}",
        ) from None
    return factory(**kwargs)


def _load_builtin_engines() -> None:
    # Importing the modules registers them; done lazily so importing the base costs nothing.
    import importlib

    for module in ("espeak", "gtts", "piper"):
        importlib.import_module(f"broadcaster.tts.{module}")
