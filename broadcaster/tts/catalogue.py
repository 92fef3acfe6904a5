"""Every engine's voices in one list: what ``broadcaster voices`` prints and the compose page offers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from broadcaster.tts.base import (
    EngineError,
    TtsEngine,
    UnknownVoice,
    VoiceListing,
    create_engine,
    engine_names,
)
from broadcaster.tts.chain import VoiceChoice

if TYPE_CHECKING:
    from broadcaster.config import Settings


def list_voices(settings: Settings, engines: Sequence[TtsEngine] = ()) -> list[VoiceListing]:
    """The voices of every registered engine, the configured chain's engines first.

    ``engines`` are already-built engines to ask instead of building new ones of the same name.
    """
    built = {engine.name: engine for engine in engines}
    order = [name for name in settings.engines if name in engine_names()]
    order += [name for name in engine_names() if name not in order]
    listings: list[VoiceListing] = []
    for name in order:
        try:
            engine = built.get(name) or create_engine(name, settings=settings)
            listings.extend(engine.list_voices())
        except EngineError as exc:
            listings.append(VoiceListing(engine=name, name="-", usable=False, problem=exc.message))
    return listings


def check_choice(value: str, listings: Sequence[VoiceListing]) -> str:
    """``value`` as a stored voice choice (``engine:voice``), if it names a usable voice; else ``UnknownVoice``."""
    choice = VoiceChoice.parse(value)
    usable = [listing for listing in listings if listing.usable]
    for listing in usable:
        if listing.engine == choice.engine and listing.name == choice.voice:
            return listing.choice
    offered = ", ".join(listing.choice for listing in usable) or "không có"
    raise UnknownVoice(
        f"Không có giọng đọc «{value[:120]}» dùng được. Các giọng có: {offered}.",
        detail=f"unknown or unusable voice choice {value!r}",
    )
