"""The TTS engine interface, its registry and its errors.

An engine is synchronous and simple: one method turns a piece of already-normalized
Vietnamese text into PCM. Callers that live in an event loop offload it with
``asyncio.to_thread``; the fallback chain turns engine failures into the next engine's turn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class SynthesisOptions:
    """What an engine may be asked besides the text. Part of the cache key, so keep it small."""

    voice: str | None = None  # engine-specific voice name; None means the engine's Vietnamese default
    rate: float = 1.0  # speaking-rate factor; 1.0 is the engine's natural announcer pace
    extra: dict[str, Any] = field(default_factory=dict)

    def cache_fields(self) -> dict[str, Any]:
        """The options as plain JSON-able data, for hashing."""
        return {"voice": self.voice, "rate": self.rate, "extra": dict(sorted(self.extra.items()))}


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


EngineFactory = Callable[..., TtsEngine]
_REGISTRY: dict[str, EngineFactory] = {}


def register_engine(name: str) -> Callable[[EngineFactory], EngineFactory]:
    """Class decorator: make an engine available by name."""

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

    for module in ("espeak", "gtts"):
        importlib.import_module(f"broadcaster.tts.{module}")
