"""``AudioCache``: the in-memory index over the cache directory, single-flight production, pins and LRU eviction.

Production is single-flight: however many threads ask for a missing key at once, ``produce`` runs
once and all of them get its result (or its error). Eviction drops least recently used entries until
the size cap holds, but never an entry that is pinned (a pending airing needs it), being read, or
being made.

Several processes may share the directory (server replicas on one volume): each writes entries
atomically and records which key holds which audio sha256 (``by-sha256/``), so any of them finds
audio another one made; pins are read-modified-written under a file lock and re-read before an
eviction, so one process never evicts what another pinned; ``refresh`` indexes what the others wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.audio.codec import ENCODINGS
from broadcaster.audio.render import RenderedAudio
from broadcaster.cache.entry import CacheEntry, CorruptEntry, build_sidecar, iso_time, parse_time, read_entry
from broadcaster.cache.files import (
    atomic_write,
    audio_path,
    delete_entry_files,
    fsync_directory,
    load_pins,
    pins_locked,
    read_sha256_pointer,
    save_pins,
    scan_directory,
    sidecar_bytes,
    sidecar_path,
    write_sha256_pointer,
)
from broadcaster.cache.keys import KEY, check_key
from broadcaster.errors import ServiceFailure
from broadcaster.private_files import private_dir

if TYPE_CHECKING:
    from broadcaster.config import Settings

log = logging.getLogger(__name__)


class CacheWriteError(ServiceFailure):
    """The audio could not be stored (disk full, permissions)."""

    code = "cache_write_failed"


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
        self._reused = threading.local()  # per thread, inside ``reusing``: key -> the entry verified there
        private_dir(self.directory)
        self._pins = load_pins(self.directory)
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
        check_key(key)
        reused: dict[str, CacheEntry] | None = getattr(self._reused, "entries", None)
        if reused is not None and key in reused:
            return reused[key]
        with self.lease(key) as entry:
            if reused is not None and entry is not None:
                reused[key] = entry
            return entry

    @contextlib.contextmanager
    def reusing(self) -> Iterator[None]:
        """Within the block, this thread reads and verifies each entry once, then reuses what it found.

        A batch asks for the same entries again and again (a province's hundred programmes from one
        master; one composition's masters for their lengths, then for the programme): each read
        hashes the whole file. Inside the block the first read's verification stands.
        """
        outer = getattr(self._reused, "entries", None)
        if outer is None:
            self._reused.entries = {}
        try:
            yield
        finally:
            if outer is None:
                self._reused.entries = None

    @contextlib.contextmanager
    def lease(self, key: str) -> Iterator[CacheEntry | None]:
        """The verified entry for ``key`` (or None), protected from eviction while the block runs."""
        check_key(key)
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
                entry: CacheEntry | None = read_entry(self.directory, key, full=True)[0]
            except CorruptEntry as problem:
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
        entry = self.entry_for_audio_sha256(audio_sha256)
        return entry.path if entry is not None else None

    def entry_for_audio_sha256(self, audio_sha256: str) -> CacheEntry | None:
        """The stored entry whose audio has this sha256 (verified: a damaged one is dropped), or None."""
        if not KEY.match(audio_sha256):
            return None
        with self._lock:
            key = self._by_sha.get(audio_sha256)
        if key is None:
            # Made by another process sharing the directory, perhaps.
            key = read_sha256_pointer(self.directory, audio_sha256)
            if key is None or self._adopt(key) is None:
                return None
        entry = self.get(key)
        return entry if entry is not None and entry.audio_sha256 == audio_sha256 else None

    # ----------------------------------------------------------------------------- producing

    def get_or_create(self, key: str, produce: Callable[[], RenderedAudio]) -> CacheEntry:
        """The entry for ``key``; if absent, ``produce`` it once, however many callers ask at the same time."""
        check_key(key)
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
                entry = self._lead(key, flight, produce)
                reused = getattr(self._reused, "entries", None)
                if reused is not None:
                    reused[key] = replace(entry, outcome="hit")  # made once: later asks in the block are hits
                return entry
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
        if not sidecar_path(self.directory, key).exists():
            return None
        try:
            return self._index_checked(key, full=True)
        except CorruptEntry:
            delete_entry_files(self.directory, key)
            return None

    def _store(self, key: str, rendered: RenderedAudio) -> CacheEntry:
        if rendered.fmt not in ENCODINGS:
            raise ValueError(f"unknown audio format {rendered.fmt!r}")
        audio_sha256 = hashlib.sha256(rendered.data).hexdigest()
        now = self._clock()
        sidecar = build_sidecar(key, rendered, audio_sha256, now)
        encoded_sidecar = sidecar_bytes(sidecar)
        path = audio_path(self.directory, key, rendered.fmt)
        try:
            atomic_write(path, rendered.data)
            atomic_write(sidecar_path(self.directory, key), encoded_sidecar)  # the commit marker: last
            write_sha256_pointer(self.directory, audio_sha256, key)
            fsync_directory(self.directory)
        except OSError as error:
            raise CacheWriteError(
                "Không lưu được âm thanh vào bộ nhớ đệm (đĩa đầy hoặc không có quyền ghi).", detail=str(error)
            ) from error
        with self._lock:
            self._add_locked(key, _Indexed(rendered.fmt, audio_sha256, len(rendered.data) + len(encoded_sidecar), now, now))
        return CacheEntry(key, path, rendered.fmt, audio_sha256, len(rendered.data), rendered.loudness, sidecar)

    # ----------------------------------------------------------------------------- pins

    def pin(self, key: str, holder: str = "default") -> None:
        """Keep ``key`` from eviction until every holder has unpinned it (it need not exist yet)."""
        self.pin_many([(key, holder)])

    def pin_many(self, pins: Iterable[tuple[str, str]]) -> None:
        """``pin`` for many (key, holder) pairs in one read and one write of the pins file."""
        wanted = list(pins)
        for key, _holder in wanted:
            check_key(key)
        if not wanted:
            return
        with self._lock, pins_locked(self.directory):
            self._pins = load_pins(self.directory)  # other processes' pins too
            for key, holder in wanted:
                self._pins.setdefault(key, set()).add(holder)
            save_pins(self.directory, self._pins)

    def unpin(self, key: str, holder: str = "default") -> None:
        """Release ``holder``'s pin on ``key`` (no error if it held none)."""
        check_key(key)
        with self._lock:
            with pins_locked(self.directory):
                self._pins = load_pins(self.directory)
                holders = self._pins.get(key)
                if not holders or holder not in holders:
                    return
                holders.discard(holder)
                if not holders:
                    del self._pins[key]
                save_pins(self.directory, self._pins)
            self._evict_locked()

    def pinned(self) -> dict[str, frozenset[str]]:
        """Every pinned key and who holds it."""
        with self._lock, pins_locked(self.directory):
            self._pins = load_pins(self.directory)
            return {key: frozenset(holders) for key, holders in self._pins.items()}

    # ----------------------------------------------------------------------------- eviction

    def evict(self) -> list[str]:
        """Evict least recently used entries until the cache fits its cap; returns the evicted keys."""
        with self._lock:
            return self._evict_locked()

    def _evict_locked(self) -> list[str]:
        if self._total <= self.max_bytes:
            return []
        with pins_locked(self.directory):
            self._pins = load_pins(self.directory)  # another process may have pinned since we last looked
        evicted: list[str] = []
        for key in sorted(self._index, key=lambda k: self._index[k].last_used):
            if self._total <= self.max_bytes:
                break
            if key in self._pins or key in self._in_use or key in self._flights:
                continue
            audio_sha256 = self._index[key].audio_sha256
            self._remove_locked(key)
            delete_entry_files(self.directory, key, audio_sha256)
            evicted.append(key)
        if self._total > self.max_bytes:
            log.warning("audio cache holds %d bytes over its cap of %d: all of it is pinned or in use",
                        self._total, self.max_bytes)
        return evicted

    # ----------------------------------------------------------------------------- index

    def _index_checked(self, key: str, *, full: bool) -> CacheEntry:
        entry, sidecar_size = read_entry(self.directory, key, full=full)
        if read_sha256_pointer(self.directory, entry.audio_sha256) != key:
            with contextlib.suppress(OSError):  # entries from before pointers existed; a full disk
                write_sha256_pointer(self.directory, entry.audio_sha256, key)
        last_used = parse_time(entry.metadata.get("last_used_at"), 0.0)
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
            metadata = {**entry.metadata, "last_used_at": iso_time(now)}
            with contextlib.suppress(OSError):
                atomic_write(sidecar_path(self.directory, key), sidecar_bytes(metadata))

    def _drop(self, key: str, seen: _Indexed) -> None:
        with self._lock:
            # Only the entry we found damaged: a fresh one (or one being made) may have replaced it since.
            if self._index.get(key) is seen and key not in self._flights:
                self._remove_locked(key)
                delete_entry_files(self.directory, key)

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

    def refresh(self) -> int:
        """Index the entries other processes sharing the directory wrote, forget those they removed; how many new."""
        listing = scan_directory(self.directory, self._clock(), self._stale_temp_after_s)
        with self._lock:
            gone = [key for key in self._index if key not in listing.sidecars and key not in self._flights]
            for key in gone:
                self._remove_locked(key)
            known = set(self._index)
        added = 0
        for key in listing.sidecars - known:
            try:
                self._index_checked(key, full=False)
                added += 1
            except CorruptEntry:
                continue  # perhaps being replaced right now; the next look decides
        with self._lock:
            self._evict_locked()
        return added

    def _rebuild_index(self) -> None:
        listing = scan_directory(self.directory, self._clock(), self._stale_temp_after_s)
        for key in listing.sidecars:
            try:
                self._index_checked(key, full=False)
            except CorruptEntry as problem:
                log.warning("dropping damaged audio cache entry %s (%s)", key, problem)
                delete_entry_files(self.directory, key)
        for key, (_fmt, age) in listing.audio.items():
            # Audio without a committed sidecar: a crash between the two renames. Young ones may
            # still be in the middle of being committed by another process.
            if key not in self._index and key not in listing.sidecars and age >= self._stale_temp_after_s:
                delete_entry_files(self.directory, key)
