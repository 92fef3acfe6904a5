"""Cached audio served by its own content hash: ``/audio/<sha256>.<fmt>``, what agents download.

The name is the sha256 of the file's bytes, so a URL can never serve other content: the
response is immutable (cacheable for a year by any CDN) and its strong ETag is the hash itself.
No authentication: holding the URL proves nothing and reveals only audio that the loudspeakers
broadcast in public anyway, and the agent checks the size and sha256 its signed order names.

Bytes whose sha256 differs from their name are never served:

- the first request after start-up reads the file and checks its sha256 (the cache does, on
  every lookup); a fan-out to a thousand clusters would hash the same megabytes a thousand times,
  so a file verified once is trusted while its size, modification *and change* times and inode
  stay the same. Cache writes replace files, never edit them; an edit in place changes the
  ctime, which nobody can set back (unlike the mtime), so it is hashed again;
- ``scrub`` hashes every verified file again, in the background (``AudioScrub``): damage the
  file system does not see (a failing disk) is found before the next fan-out, not by an agent;
- a file that is missing or damaged is dropped and made again from its masters
  (``AudioRecovery``), then served; if it cannot be made bit for bit, 404 (the agent keeps
  trying, and delivery sends it a replacement order).

``bench/audio_verify.py`` measures what this costs.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from broadcaster.audio.codec import ENCODINGS
from broadcaster.errors import NotFound
from broadcaster.hashing import file_sha256
from broadcaster.periodic import Periodic

log = logging.getLogger(__name__)
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


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


class AudioFiles:
    """Finds cached audio by name, verifying each file once while it stays unchanged; makes lost audio again."""

    def __init__(self, lookup: Callable[[str], Path | None],
                 recover: Callable[[str], Path | None] | None = None) -> None:
        self._lookup = lookup  # sha256 -> verified path (AudioCache.path_for_audio_sha256)
        self._recover = recover  # sha256 -> the file made again from its masters (AudioRecovery.recover)
        self._verified: dict[str, tuple[Path, tuple[int, int, int, int]]] = {}
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
        found = self._lookup(sha256)  # hashes the file; a damaged one is dropped (None)
        if found is None and self._recover is not None:
            found = self._recover(sha256)
        if found is None or found.suffix != f".{fmt}":
            raise AudioNotFound("Không có tệp âm thanh này.", detail=f"no cached audio {name!r}")
        try:
            stat = found.stat()
        except OSError:
            raise AudioNotFound("Không có tệp âm thanh này.", detail=f"{found} vanished") from None
        with self._lock:
            self._verified[sha256] = (found, _identity(stat))
        return ServedAudio(found, sha256, MEDIA_TYPES[fmt], stat)

    def scrub(self) -> list[str]:
        """Hash every verified file again; forget (and report) the ones that no longer match their name."""
        with self._lock:
            known = list(self._verified.items())
        damaged: list[str] = []
        for sha256, (path, _identity_seen) in known:
            try:
                intact = file_sha256(path) == sha256
            except OSError:
                intact = False
            if not intact:
                damaged.append(sha256)
                with self._lock:
                    self._verified.pop(sha256, None)
        if damaged:
            log.warning("audio scrub: %d file(s) damaged or gone: %s", len(damaged), [d[:12] for d in damaged])
        for sha256 in damaged:  # made again now, before an agent asks for it
            path = next(path for digest, (path, _seen) in known if digest == sha256)
            try:
                self.find(f"{sha256}{path.suffix}")
            except AudioNotFound:
                log.error("audio %s is damaged and could not be made again", sha256[:12])
        return damaged


class AudioScrub(Periodic):
    """Runs ``AudioFiles.scrub`` every ``interval_s`` seconds in a daemon thread (``start``, ``close``)."""

    def __init__(self, files: AudioFiles, interval_s: float) -> None:
        super().__init__(self._scrub_once, interval_s, name="audio-scrub")
        self._files = files

    def _scrub_once(self) -> None:
        try:
            self._files.scrub()
        except Exception:  # noqa: BLE001 - the scrub must never die: it is the only check between serves
            log.exception("audio scrub failed")
