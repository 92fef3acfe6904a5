"""Voice choices stored on bulletins and communes: checked against the voices this server can use.

A stored choice is ``engine:voice`` (``piper:vi_VN-vais1000-medium``, ``espeak:vi-vn-x-south``), or
nothing, meaning "the commune's default" for a bulletin and "the server's" for a commune. What the
voice list holds depends on the server (which voice files the operator copied in), so callers pass
a ``VoiceCheck`` built from the speech service; without one only the form of the choice is checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from broadcaster.models import Bulletin, Commune
from broadcaster.tts.base import SynthesisOptions, UnknownVoice
from broadcaster.tts.chain import VoiceChoice

VoiceCheck = Callable[[str], str]
MAX_LENGTH = 160  # the columns' length
_VOICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,119}$")


def stored_voice(value: str, check: VoiceCheck | None = None) -> str | None:
    """The choice to store for ``value``: None for blank (the default), else ``engine:voice``.

    ``UnknownVoice`` (or ``UnknownEngine``) names what is wrong and, with ``check``, what may be chosen.
    """
    if not value.strip():
        return None
    if len(value) > MAX_LENGTH:
        raise UnknownVoice(f"Tên giọng đọc dài quá {MAX_LENGTH} ký tự.", detail=f"voice of {len(value)} chars")
    if check is not None:
        return check(value.strip())
    choice = VoiceChoice.parse(value)
    if choice.engine is None or choice.voice is None or not _VOICE_NAME.match(choice.voice):
        raise UnknownVoice(
            f"Giọng đọc «{value[:120]}» phải có dạng bộ-đọc:giọng, ví dụ piper:vi_VN-vais1000-medium.",
            detail=f"malformed voice choice {value!r}",
        )
    return str(choice)


def checked_rate(value: float) -> float:
    """A speaking-rate factor the engines accept; ``InvalidRate`` otherwise."""
    return SynthesisOptions(rate=value).rate


@dataclass(frozen=True)
class Reading:
    """How a bulletin is read: its voice choice and speaking rate (None: the server's)."""

    voice: str | None
    rate: float | None


def reading_of(bulletin: Bulletin, commune: Commune | None = None) -> Reading:
    """The bulletin's own voice, else its commune's default; the commune's speaking rate."""
    commune = commune or bulletin.commune
    return Reading(voice=bulletin.voice or commune.default_voice, rate=commune.speech_rate)
