"""The cache directory: the index survives restarts, crash left-overs are cleaned, no temp files remain."""

from __future__ import annotations

import os
import time
from pathlib import Path

from broadcaster.cache import AudioCache
from tests.cache.support import Producer, key_of


def test_index_survives_a_restart(tmp_path: Path) -> None:
    first = AudioCache(tmp_path, 10 * 1024 * 1024)
    entry = first.get_or_create(key_of("kept"), Producer("kept"))
    first.pin(key_of("kept"), holder="airing-7")

    again = AudioCache(tmp_path, 10 * 1024 * 1024)
    assert key_of("kept") in again and again.total_bytes == first.total_bytes
    assert again.get_or_create(key_of("kept"), Producer("other")).outcome == "hit"
    assert again.path_for_audio_sha256(entry.audio_sha256) == entry.path
    assert again.pinned() == {key_of("kept"): frozenset({"airing-7"})}


def test_crash_leftovers_are_ignored_and_cleaned_at_start_up(tmp_path: Path) -> None:
    AudioCache(tmp_path).get_or_create(key_of("good"), Producer("good"))
    stale = time.time() - 3600
    leftover = tmp_path / f".tmp-{key_of('crashed')}.mp3.0123"
    leftover.write_bytes(b"half an mp3")
    orphan = tmp_path / f"{key_of('uncommitted')}.mp3"  # audio renamed, sidecar never written
    orphan.write_bytes(b"audio without sidecar")
    fresh_temp = tmp_path / f".tmp-{key_of('writing')}.json.4567"  # another process, right now
    fresh_temp.write_bytes(b"{")
    stranger = tmp_path / "README.txt"
    stranger.write_text("not ours")
    for path in (leftover, orphan):
        os.utime(path, (stale, stale))

    cache = AudioCache(tmp_path)
    assert not leftover.exists() and not orphan.exists()
    assert fresh_temp.exists() and stranger.exists()
    assert cache.keys() == [key_of("good")]
    produce = Producer("uncommitted")
    assert cache.get_or_create(key_of("uncommitted"), produce).outcome == "miss" and produce.calls == 1


def test_no_temp_files_remain_after_writing(cache: AudioCache) -> None:
    for name in "abc":
        cache.get_or_create(key_of(name), Producer(name))
    names = sorted(path.name for path in cache.directory.iterdir())
    assert not [name for name in names if name.startswith(".tmp-")]
    assert len([name for name in names if name.endswith(".mp3")]) == 3
