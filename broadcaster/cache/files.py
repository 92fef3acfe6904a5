"""The cache directory on disk: entry file names, atomic writes, the pins file, and the start-up scan.

Every write goes through a temporary file (``.tmp-*``) that is fsynced and then renamed over its
target, so a reader (or a crash) sees the old file or the complete new one, never a part. Temporary
files left by a crash are removed by ``scan_directory`` once they are old enough not to belong to
another process that is writing right now.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broadcaster.audio.codec import ENCODINGS
from broadcaster.cache.keys import AUDIO_NAME, KEY, SIDECAR_NAME
from broadcaster.private_files import open_private, private_dir

log = logging.getLogger(__name__)

PINS_FILE = "pins.json"
PINS_LOCK = "pins.lock"
BY_SHA256_DIR = "by-sha256"  # <audio sha256> -> the key of the entry holding that audio
TEMP_PREFIX = ".tmp-"


@dataclass
class DirectoryListing:
    """What a scan of the cache directory found, by key."""

    audio: dict[str, tuple[str, float]]  # key -> (format, age in seconds)
    sidecars: set[str]


def audio_path(directory: Path, key: str, fmt: str) -> Path:
    """Where the audio of ``key`` in format ``fmt`` lives."""
    return directory / f"{key}.{fmt}"


def sidecar_path(directory: Path, key: str) -> Path:
    """Where the sidecar (the commit marker) of ``key`` lives."""
    return directory / f"{key}.json"


def sidecar_bytes(data: Mapping[str, Any]) -> bytes:
    """Readable JSON for sidecars and the pins file (not for hashing: see ``canonical_json``)."""
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True, default=str).encode("utf-8")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the complete new one, never a part."""
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{uuid.uuid4().hex}")
    try:
        # 0600: sidecars hold the texts of drafts that were previewed.
        with os.fdopen(open_private(temp), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def fsync_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable, where the platform allows it."""
    # Not possible (nor needed) on every platform, hence the suppressed OSError.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def delete_entry_files(directory: Path, key: str, audio_sha256: str | None = None) -> None:
    """Remove the sidecar, then every audio file, of ``key`` (missing ones are fine), and its sha256 pointer."""
    # The sidecar goes first: without it the entry is uncommitted, whatever happens next.
    with contextlib.suppress(FileNotFoundError):
        sidecar_path(directory, key).unlink()
    for fmt in ENCODINGS:
        with contextlib.suppress(FileNotFoundError):
            audio_path(directory, key, fmt).unlink()
    if audio_sha256 is not None and read_sha256_pointer(directory, audio_sha256) == key:
        with contextlib.suppress(FileNotFoundError):
            sha256_pointer_path(directory, audio_sha256).unlink()


def scan_directory(directory: Path, now: float, stale_temp_after_s: float) -> DirectoryListing:
    """List the entry files in ``directory`` and remove temporary files older than ``stale_temp_after_s``."""
    audio: dict[str, tuple[str, float]] = {}
    sidecars: set[str] = set()
    for item in os.scandir(directory):
        if not item.is_file(follow_symlinks=False):
            continue
        age = now - item.stat().st_mtime
        if item.name.startswith(TEMP_PREFIX):
            if age >= stale_temp_after_s:
                log.info("removing stray temporary file %s from the audio cache", item.name)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(item.path)
        elif match := AUDIO_NAME.match(item.name):
            audio[match["key"]] = (match["fmt"], age)
        elif match := SIDECAR_NAME.match(item.name):
            sidecars.add(match["key"])
    return DirectoryListing(audio, sidecars)


def sha256_pointer_path(directory: Path, audio_sha256: str) -> Path:
    """The small file naming the key whose audio has this sha256 (replicas sharing the directory read it)."""
    return directory / BY_SHA256_DIR / audio_sha256


def write_sha256_pointer(directory: Path, audio_sha256: str, key: str) -> None:
    """Record that ``key`` holds the audio ``audio_sha256``."""
    path = sha256_pointer_path(directory, audio_sha256)
    private_dir(path.parent)  # 0700 like every cache folder, whatever the umask
    atomic_write(path, key.encode("ascii"))


def read_sha256_pointer(directory: Path, audio_sha256: str) -> str | None:
    """The key a pointer names, if there is a well-formed one."""
    try:
        key = sha256_pointer_path(directory, audio_sha256).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return key if KEY.match(key) else None


@contextlib.contextmanager
def pins_locked(directory: Path) -> Iterator[None]:
    """Hold the directory's pins lock: processes sharing the cache read-modify-write pins one at a time."""
    with open(directory / PINS_LOCK, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def load_pins(directory: Path) -> dict[str, set[str]]:
    """The pins saved in ``directory`` (key -> holders); none if the file is absent or unreadable."""
    path = directory / PINS_FILE
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {key: set(holders) for key, holders in raw["pins"].items() if KEY.match(key)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        # Pins are only ever written atomically, so this is outside damage; say so loudly.
        log.error("audio cache pins file %s is unreadable (%s); starting with no pins", path, error)
        return {}


def save_pins(directory: Path, pins: Mapping[str, set[str]]) -> None:
    """Write the pins (key -> holders) to ``directory`` atomically."""
    data = {"version": 1, "pins": {key: sorted(holders) for key, holders in sorted(pins.items())}}
    atomic_write(directory / PINS_FILE, sidecar_bytes(data))
