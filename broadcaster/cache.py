"""The content-addressed audio store: one rendering per distinct input, kept on disk, found by hash.

Layout of the cache directory (flat, every name checked by a regex)::

    <key>.mp3        the encoded audio (or .ogg / .wav)
    <key>.json       its sidecar: provenance, loudness, sha256 and size of the audio; written last,
                     so its presence is the commit marker of the entry
    pins.json        which entries pending airings hold (survives restarts)
    .tmp-*           files being written; left-overs of a crash are removed at start-up

The key is the sha256 of canonical JSON over everything that decides the sound (see
``cache_key``). Reads check size and sha256 against the sidecar, so a truncated or damaged file
is made again instead of being served. Production is single-flight: however many threads ask
for a missing key at once, ``produce`` runs once and all of them get its result (or its error).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from broadcaster.audio.codec import ENCODINGS
from broadcaster.audio.loudness import Loudness
from broadcaster.audio.render import RENDER_VERSION, RenderedAudio, RenderOptions
from broadcaster.config import TIMEZONE
from broadcaster.errors import InvalidInput, ServiceFailure
from broadcaster.tts.base import SynthesisOptions

if TYPE_CHECKING:
    from broadcaster.config import Settings

log = logging.getLogger(__name__)

SIDECAR_VERSION = 1
PINS_FILE = "pins.json"
TEMP_PREFIX = ".tmp-"
_KEY = re.compile(r"^[0-9a-f]{64}$")
_AUDIO_NAME = re.compile(r"^(?P<key>[0-9a-f]{64})\.(?P<fmt>" + "|".join(ENCODINGS) + r")$")
_SIDECAR_NAME = re.compile(r"^(?P<key>[0-9a-f]{64})\.json$")

Outcome = Literal["hit", "miss", "shared"]


class InvalidCacheKey(InvalidInput):
    """A cache key must be 64 lowercase hex digits."""

    code = "cache_invalid_key"


class CacheWriteError(ServiceFailure):
    """The audio could not be stored (disk full, permissions)."""

    code = "cache_write_failed"


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes for hashing: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def cache_key(
    text: str,
    engine: str,
    synthesis: SynthesisOptions,
    render: RenderOptions,
    *,
    voice: str | None = None,
) -> str:
    """The key of spoken text: sha256 over NFC text, engine, voice and options, render options and version.

    ``voice`` (the engine's resolved default) replaces ``synthesis.voice`` in the key when given, so
    that a changed default voice does not serve audio spoken by the old one.
    """
    fields = synthesis.cache_fields()
    if voice is not None:
        fields = {**fields, "voice": voice}
    material = {
        "kind": "speech",
        "text": unicodedata.normalize("NFC", text),
        "engine": engine,
        "synthesis": fields,
        "render": render.cache_fields(),
        "render_version": RENDER_VERSION,
    }
    return hashlib.sha256(canonical_json(material)).hexdigest()


def upload_cache_key(upload_sha256: str, render: RenderOptions) -> str:
    """The key of an uploaded recording: sha256 over the upload's sha256, render options and version."""
    material = {
        "kind": "upload",
        "upload_sha256": upload_sha256.lower(),
        "render": render.cache_fields(),
        "render_version": RENDER_VERSION,
    }
    return hashlib.sha256(canonical_json(material)).hexdigest()


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


@dataclass
class _Indexed:
    fmt: str
    audio_sha256: str
    size: int  # audio plus sidecar, for the size cap
    last_used: float
    persisted_last_used: float


@dataclass
class _Flight:
    done: threading.Event = field(default_factory=threading.Event)
    entry: CacheEntry | None = None
    error: BaseException | None = None


class _Corrupt(Exception):
    """An entry on disk does not match its sidecar (internal: it is then made again)."""


class AudioCache:
    """Content-addressed audio on disk with single-flight production, LRU eviction and pins."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int = 2 * 1024**3,
        *,
        clock: Callable[[], float] = time.time,
        stale_temp_after_s: float = 600.0,
        touch_interval_s: float = 60.0,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._clock = clock
        # Temp files younger than this may belong to another process writing right now.
        self._stale_temp_after_s = stale_temp_after_s
        # Last-use times are exact in memory; the sidecar is rewritten at most this often per entry.
        self._touch_interval_s = touch_interval_s
        self._lock = threading.Lock()
        self._index: dict[str, _Indexed] = {}
        self._by_sha: dict[str, str] = {}
        self._flights: dict[str, _Flight] = {}
        self._in_use: Counter[str] = Counter()
        self._pins: dict[str, set[str]] = {}
        self._total = 0
        self.directory.mkdir(parents=True, exist_ok=True)
        self._pins = self._load_pins()
        self._rebuild_index()
        with self._lock:
            self._evict_locked()

    @classmethod
    def from_settings(cls, settings: Settings) -> AudioCache:
        """The cache configured by ``Settings.cache_dir`` and ``Settings.cache_max_bytes``."""
        return cls(settings.cache_dir, settings.cache_max_bytes)

    # ----------------------------------------------------------------------------- reading

    @property
    def total_bytes(self) -> int:
        """Bytes held by committed entries (audio plus sidecars)."""
        with self._lock:
            return self._total

    def keys(self) -> list[str]:
        """Keys of the committed entries, least recently used first."""
        with self._lock:
            return sorted(self._index, key=lambda key: self._index[key].last_used)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._index

    def get(self, key: str) -> CacheEntry | None:
        """The verified entry for ``key``, or None if absent or damaged (damaged files are removed)."""
        _check_key(key)
        with self.lease(key) as entry:
            return entry

    @contextlib.contextmanager
    def lease(self, key: str) -> Iterator[CacheEntry | None]:
        """The verified entry for ``key`` (or None), protected from eviction while the block runs."""
        _check_key(key)
        with self._lock:
            if key not in self._index:
                indexed = None
            else:
                indexed = self._index[key]
                self._in_use[key] += 1
        if indexed is None:
            yield None
            return
        try:
            try:
                entry: CacheEntry | None = self._check(key, full=True)[0]
            except _Corrupt as problem:
                log.warning("audio cache entry %s is damaged (%s); it will be made again", key, problem)
                self._drop(key, indexed)
                entry = None
            if entry is not None:
                self._touch(key, entry)
            yield entry
        finally:
            with self._lock:
                self._in_use[key] -= 1
                if self._in_use[key] <= 0:
                    del self._in_use[key]

    def path_for_audio_sha256(self, audio_sha256: str) -> Path | None:
        """The stored file whose content has this sha256 (verified), or None."""
        if not _KEY.match(audio_sha256):
            return None
        with self._lock:
            key = self._by_sha.get(audio_sha256)
        if key is None:
            return None
        entry = self.get(key)
        return entry.path if entry is not None and entry.audio_sha256 == audio_sha256 else None

    # ----------------------------------------------------------------------------- producing

    def get_or_create(self, key: str, produce: Callable[[], RenderedAudio]) -> CacheEntry:
        """The entry for ``key``; if absent, ``produce`` it once, however many callers ask at the same time."""
        _check_key(key)
        while True:
            entry = self.get(key)
            if entry is not None:
                return entry
            with self._lock:
                if key in self._index:
                    continue  # committed by another thread between our look and the lock
                flight = self._flights.get(key)
                leader = flight is None
                if flight is None:
                    flight = self._flights[key] = _Flight()
            if leader:
                return self._lead(key, flight, produce)
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            if flight.entry is not None:
                return replace(flight.entry, outcome="shared")

    async def aget_or_create(self, key: str, produce: Callable[[], RenderedAudio]) -> CacheEntry:
        """``get_or_create`` for asyncio callers: runs in a worker thread (``produce`` is blocking)."""
        return await asyncio.to_thread(self.get_or_create, key, produce)

    def _lead(self, key: str, flight: _Flight, produce: Callable[[], RenderedAudio]) -> CacheEntry:
        try:
            entry = self._adopt(key) or replace(self._store(key, produce()), outcome="miss")
            flight.entry = entry
            return entry
        except BaseException as error:
            flight.error = error
            raise
        finally:
            with self._lock:
                if flight.entry is not None:
                    # Evict while the new entry is still in flight, so it cannot be its own victim.
                    self._evict_locked()
                del self._flights[key]
            flight.done.set()

    def _adopt(self, key: str) -> CacheEntry | None:
        # Another process sharing the directory may have made it already.
        if not self._sidecar_path(key).exists():
            return None
        try:
            return self._index_checked(key, full=True)
        except _Corrupt:
            self._delete_files(key)
            return None

    def _store(self, key: str, rendered: RenderedAudio) -> CacheEntry:
        if rendered.fmt not in ENCODINGS:
            raise ValueError(f"unknown audio format {rendered.fmt!r}")
        audio_sha256 = hashlib.sha256(rendered.data).hexdigest()
        now = self._clock()
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
            created_at=_iso(now),
            last_used_at=_iso(now),
        )
        sidecar_bytes = _sidecar_bytes(sidecar)
        audio_path = self._audio_path(key, rendered.fmt)
        try:
            _atomic_write(audio_path, rendered.data)
            _atomic_write(self._sidecar_path(key), sidecar_bytes)  # the commit marker: last
            _fsync_directory(self.directory)
        except OSError as error:
            raise CacheWriteError(
                "Không lưu được âm thanh vào bộ nhớ đệm (đĩa đầy hoặc không có quyền ghi).", detail=str(error)
            ) from error
        with self._lock:
            self._add_locked(key, _Indexed(rendered.fmt, audio_sha256, len(rendered.data) + len(sidecar_bytes), now, now))
        return CacheEntry(key, audio_path, rendered.fmt, audio_sha256, len(rendered.data), rendered.loudness, sidecar)

    # ----------------------------------------------------------------------------- pins

    def pin(self, key: str, holder: str = "default") -> None:
        """Keep ``key`` from eviction until every holder has unpinned it (it need not exist yet)."""
        _check_key(key)
        with self._lock:
            self._pins.setdefault(key, set()).add(holder)
            self._save_pins_locked()

    def unpin(self, key: str, holder: str = "default") -> None:
        """Release ``holder``'s pin on ``key`` (no error if it held none)."""
        _check_key(key)
        with self._lock:
            holders = self._pins.get(key)
            if not holders or holder not in holders:
                return
            holders.discard(holder)
            if not holders:
                del self._pins[key]
            self._save_pins_locked()
            self._evict_locked()

    def pinned(self) -> dict[str, frozenset[str]]:
        """Every pinned key and who holds it."""
        with self._lock:
            return {key: frozenset(holders) for key, holders in self._pins.items()}

    def _load_pins(self) -> dict[str, set[str]]:
        path = self.directory / PINS_FILE
        if not path.exists():
            return {}
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return {key: set(holders) for key, holders in raw["pins"].items() if _KEY.match(key)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            # Pins are only ever written atomically, so this is outside damage; say so loudly.
            log.error("audio cache pins file %s is unreadable (%s); starting with no pins", path, error)
            return {}

    def _save_pins_locked(self) -> None:
        data = {"version": 1, "pins": {key: sorted(holders) for key, holders in sorted(self._pins.items())}}
        _atomic_write(self.directory / PINS_FILE, _sidecar_bytes(data))

    # ----------------------------------------------------------------------------- eviction

    def evict(self) -> list[str]:
        """Evict least recently used entries until the cache fits its cap; returns the evicted keys."""
        with self._lock:
            return self._evict_locked()

    def _evict_locked(self) -> list[str]:
        if self._total <= self.max_bytes:
            return []
        evicted: list[str] = []
        for key in sorted(self._index, key=lambda k: self._index[k].last_used):
            if self._total <= self.max_bytes:
                break
            if key in self._pins or key in self._in_use or key in self._flights:
                continue
            self._remove_locked(key)
            self._delete_files(key)
            evicted.append(key)
        if self._total > self.max_bytes:
            log.warning("audio cache holds %d bytes over its cap of %d: all of it is pinned or in use",
                        self._total, self.max_bytes)
        return evicted

    # ----------------------------------------------------------------------------- internals

    def _check(self, key: str, *, full: bool) -> tuple[CacheEntry, int]:
        """The entry as its sidecar describes it, and the sidecar's size; ``_Corrupt`` if they disagree.

        ``full`` also compares the sha256 (every read); start-up compares sizes only.
        """
        sidecar_path = self._sidecar_path(key)
        try:
            raw = sidecar_path.read_bytes()
            metadata = json.loads(raw)
            fmt, audio_sha256, size = str(metadata["fmt"]), str(metadata["audio_sha256"]), int(metadata["size"])
            loudness = Loudness.from_json(metadata["loudness"])
            if metadata["key"] != key or fmt not in ENCODINGS or not _KEY.match(audio_sha256):
                raise ValueError("the sidecar describes another entry")
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise _Corrupt(f"sidecar missing or unreadable: {error}") from None
        audio_path = self._audio_path(key, fmt)
        try:
            data = audio_path.read_bytes() if full else b""
            actual = len(data) if full else audio_path.stat().st_size
        except OSError:
            raise _Corrupt("audio missing") from None
        if actual != size:
            raise _Corrupt(f"audio is {actual} bytes, the sidecar says {size}")
        if full and hashlib.sha256(data).hexdigest() != audio_sha256:
            raise _Corrupt("audio sha256 differs from the sidecar")
        return CacheEntry(key, audio_path, fmt, audio_sha256, size, loudness, metadata), len(raw)

    def _index_checked(self, key: str, *, full: bool) -> CacheEntry:
        entry, sidecar_size = self._check(key, full=full)
        last_used = _parse_time(entry.metadata.get("last_used_at"), 0.0)
        with self._lock:
            self._add_locked(key, _Indexed(entry.fmt, entry.audio_sha256, entry.size + sidecar_size, last_used, last_used))
        return entry

    def _touch(self, key: str, entry: CacheEntry) -> None:
        now = self._clock()
        with self._lock:
            indexed = self._index.get(key)
            if indexed is None:
                return
            indexed.last_used = max(indexed.last_used, now)
            stale = now - indexed.persisted_last_used >= self._touch_interval_s
            if stale:
                indexed.persisted_last_used = now
        if stale:
            # Only the cache rewrites sidecars, atomically; readers see the old or the new one.
            metadata = {**entry.metadata, "last_used_at": _iso(now)}
            with contextlib.suppress(OSError):
                _atomic_write(self._sidecar_path(key), _sidecar_bytes(metadata))

    def _drop(self, key: str, seen: _Indexed) -> None:
        with self._lock:
            # Only the entry we found damaged: a fresh one (or one being made) may have replaced it since.
            if self._index.get(key) is seen and key not in self._flights:
                self._remove_locked(key)
                self._delete_files(key)

    def _add_locked(self, key: str, indexed: _Indexed) -> None:
        self._remove_locked(key)
        self._index[key] = indexed
        self._by_sha[indexed.audio_sha256] = key
        self._total += indexed.size

    def _remove_locked(self, key: str) -> None:
        indexed = self._index.pop(key, None)
        if indexed is None:
            return
        self._total -= indexed.size
        if self._by_sha.get(indexed.audio_sha256) == key:
            del self._by_sha[indexed.audio_sha256]

    def _delete_files(self, key: str) -> None:
        # The sidecar goes first: without it the entry is uncommitted, whatever happens next.
        with contextlib.suppress(FileNotFoundError):
            self._sidecar_path(key).unlink()
        for fmt in ENCODINGS:
            with contextlib.suppress(FileNotFoundError):
                self._audio_path(key, fmt).unlink()

    def _audio_path(self, key: str, fmt: str) -> Path:
        return self.directory / f"{key}.{fmt}"

    def _sidecar_path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def _rebuild_index(self) -> None:
        now = self._clock()
        audio: dict[str, tuple[str, float]] = {}
        sidecars: set[str] = set()
        for item in os.scandir(self.directory):
            if not item.is_file(follow_symlinks=False):
                continue
            age = now - item.stat().st_mtime
            if item.name.startswith(TEMP_PREFIX):
                if age >= self._stale_temp_after_s:
                    log.info("removing stray temporary file %s from the audio cache", item.name)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(item.path)
            elif match := _AUDIO_NAME.match(item.name):
                audio[match["key"]] = (match["fmt"], age)
            elif match := _SIDECAR_NAME.match(item.name):
                sidecars.add(match["key"])
        for key in sidecars:
            try:
                self._index_checked(key, full=False)
            except _Corrupt as problem:
                log.warning("dropping damaged audio cache entry %s (%s)", key, problem)
                self._delete_files(key)
        for key, (_fmt, age) in audio.items():
            # Audio without a committed sidecar: a crash between the two renames. Young ones may
            # still be in the middle of being committed by another process.
            if key not in self._index and key not in sidecars and age >= self._stale_temp_after_s:
                self._delete_files(key)


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidCacheKey("Mã bộ nhớ đệm không hợp lệ (cần 64 chữ số hex).", detail=f"bad cache key {key!r}")


def _sidecar_bytes(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True, default=str).encode("utf-8")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the complete new one, never a part."""
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{uuid.uuid4().hex}")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def _fsync_directory(directory: Path) -> None:
    # Makes the renames themselves durable; not possible (nor needed) on every platform.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, ZoneInfo(TIMEZONE)).isoformat(timespec="milliseconds")


def _parse_time(value: Any, default: float) -> float:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return default
