"""One stored rendering: ``CacheEntry``, and its sidecar as written and as checked on every read.

The sidecar (``<key>.json``) holds provenance, loudness, and the sha256 and size of the audio. It is
written last, so its presence commits the entry; reads compare the audio against it, so a truncated
or damaged file is reported (``CorruptEntry``) and made again instead of being served.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from broadcaster.audio.codec import ENCODINGS
from broadcaster.audio.loudness import Loudness
from broadcaster.audio.render import RENDER_VERSION, RenderedAudio
from broadcaster.cache.files import audio_path, sidecar_path
from broadcaster.cache.keys import KEY
from broadcaster.config import TIMEZONE

SIDECAR_VERSION = 1

Outcome = Literal["hit", "miss", "shared"]


@dataclass(frozen=True)
class CacheEntry:
    """A stored, verified rendering, and how this request got it (``outcome``)."""

    key: str
    path: Path
    fmt: str
    audio_sha256: str
    size: int
    loudness: Loudness
    metadata: Mapping[str, Any]
    outcome: Outcome = "hit"  # hit: found stored; miss: this call produced it; shared: waited for another's

    @property
    def hit(self) -> bool:
        """Whether the audio was already stored when asked for."""
        return self.outcome == "hit"

    @property
    def duration_s(self) -> float:
        """Playing time of the audio."""
        return self.loudness.duration_s

    def read_bytes(self) -> bytes:
        """The audio file's content."""
        return self.path.read_bytes()


class CorruptEntry(Exception):
    """An entry on disk does not match its sidecar (internal: it is then made again)."""


def build_sidecar(key: str, rendered: RenderedAudio, audio_sha256: str, now: float) -> dict[str, Any]:
    """The sidecar of a new entry: the rendering's provenance, then the cache's own fields."""
    # Provenance first (text, engine that actually spoke, voice, options); the cache's own fields win.
    sidecar: dict[str, Any] = dict(rendered.info)
    sidecar.update(
        sidecar_version=SIDECAR_VERSION,
        key=key,
        fmt=rendered.fmt,
        audio_sha256=audio_sha256,
        size=len(rendered.data),
        duration_s=round(rendered.loudness.duration_s, 4),
        loudness=rendered.loudness.as_json(),
        render_version=RENDER_VERSION,
        created_at=iso_time(now),
        last_used_at=iso_time(now),
    )
    return sidecar


def read_entry(directory: Path, key: str, *, full: bool) -> tuple[CacheEntry, int]:
    """The entry as its sidecar describes it, and the sidecar's size; ``CorruptEntry`` if they disagree.

    ``full`` also compares the sha256 (every read); start-up compares sizes only.
    """
    sidecar = sidecar_path(directory, key)
    try:
        raw = sidecar.read_bytes()
        metadata = json.loads(raw)
        fmt, audio_sha256, size = str(metadata["fmt"]), str(metadata["audio_sha256"]), int(metadata["size"])
        loudness = Loudness.from_json(metadata["loudness"])
        if metadata["key"] != key or fmt not in ENCODINGS or not KEY.match(audio_sha256):
            raise ValueError("the sidecar describes another entry")
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise CorruptEntry(f"sidecar missing or unreadable: {error}") from None
    path = audio_path(directory, key, fmt)
    try:
        data = path.read_bytes() if full else b""
        actual = len(data) if full else path.stat().st_size
    except OSError:
        raise CorruptEntry("audio missing") from None
    if actual != size:
        raise CorruptEntry(f"audio is {actual} bytes, the sidecar says {size}")
    if full and hashlib.sha256(data).hexdigest() != audio_sha256:
        raise CorruptEntry("audio sha256 differs from the sidecar")
    return CacheEntry(key, path, fmt, audio_sha256, size, loudness, metadata), len(raw)


def iso_time(timestamp: float) -> str:
    """A timestamp as ISO 8601 in the broadcaster's time zone, to the millisecond."""
    return datetime.fromtimestamp(timestamp, ZoneInfo(TIMEZONE)).isoformat(timespec="milliseconds")


def parse_time(value: Any, default: float) -> float:
    """The timestamp of an ISO 8601 string, or ``default`` if it is not one."""
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return default
