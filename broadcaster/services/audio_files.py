"""Cached audio served by its own content hash: ``/audio/<sha256>.<fmt>``, what agents download.

The name is the sha256 of the file's bytes, so a URL can never serve other content: the
response is immutable (cacheable for a year by any CDN) and its strong ETag is the hash itself.
No authentication: holding the URL proves nothing and reveals only audio that the loudspeakers
broadcast in public anyway, and the agent checks the size and sha256 its signed order names.

The audio cache verifies a file's sha256 on every read; a fan-out to a thousand clusters would
hash the same megabytes a thousand times, so a file verified once is trusted while its size,
modification time and inode stay the same (cache writes replace files, never edit them).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from broadcaster.audio.codec import ENCODINGS
from broadcaster.errors import NotFound

IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {"mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav"}
_NAME = re.compile(r"^(?P<sha256>[0-9a-f]{64})\.(?P<fmt>" + "|".join(ENCODINGS) + r")$")


class AudioNotFound(NotFound):
    """No cached audio has this content hash (or the name is not ``<sha256>.<format>``)."""

    code = "audio_not_found"


@dataclass(frozen=True)
class ServedAudio:
    """A verified cached file and what its response needs."""

    path: Path
    sha256: str
    media_type: str
    stat: os.stat_result

    @property
    def etag(self) -> str:
        """The strong ETag: the content hash, quoted."""
        return f'"{self.sha256}"'


def _identity(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


class AudioFiles:
    """Finds cached audio by name, verifying each file once while it stays unchanged."""

    def __init__(self, lookup: Callable[[str], Path | None]) -> None:
        self._lookup = lookup  # sha256 -> verified path (AudioCache.path_for_audio_sha256)
        self._verified: dict[str, tuple[Path, tuple[int, int, int]]] = {}
        self._lock = threading.Lock()

    def find(self, name: str) -> ServedAudio:
        """The audio named ``<sha256>.<fmt>``; ``AudioNotFound`` if it is malformed or unknown."""
        match = _NAME.match(name)
        if match is None:
            raise AudioNotFound("Không có tệp âm thanh này.", detail=f"malformed audio name {name[:100]!r}")
        sha256, fmt = match["sha256"], match["fmt"]
        with self._lock:
            known = self._verified.get(sha256)
        if known is not None:
            path, identity = known
            try:
                stat = path.stat()
            except OSError:
                stat = None
            if stat is not None and _identity(stat) == identity and path.suffix == f".{fmt}":
                return ServedAudio(path, sha256, MEDIA_TYPES[fmt], stat)
        found = self._lookup(sha256)
        if found is None or found.suffix != f".{fmt}":
            raise AudioNotFound("Không có tệp âm thanh này.", detail=f"no cached audio {name!r}")
        try:
            stat = found.stat()
        except OSError:
            raise AudioNotFound("Không có tệp âm thanh này.", detail=f"{found} vanished") from None
        with self._lock:
            self._verified[sha256] = (found, _identity(stat))
        return ServedAudio(found, sha256, MEDIA_TYPES[fmt], stat)
