"""Two caches on one directory, as two server replicas on a shared volume: each finds what the other
made, by key and by audio sha256, and neither evicts what the other pinned."""

from __future__ import annotations

import hashlib
from pathlib import Path

from broadcaster.cache import AudioCache
from tests.cache.support import Producer, key_of, small_cache


def test_audio_made_by_one_replica_is_found_by_the_other_by_its_sha256(tmp_path: Path) -> None:
    first, second = AudioCache(tmp_path), AudioCache(tmp_path)  # both started before anything existed
    entry = first.get_or_create(key_of("a"), Producer("a"))
    path = second.path_for_audio_sha256(entry.audio_sha256)
    assert path is not None and hashlib.sha256(path.read_bytes()).hexdigest() == entry.audio_sha256
    producer = Producer("a")
    assert second.get_or_create(key_of("a"), producer).audio_sha256 == entry.audio_sha256
    assert producer.calls == 0  # adopted from the shared directory, not made again
    assert second.path_for_audio_sha256("0" * 64) is None


def test_a_replica_never_evicts_what_another_pinned(tmp_path: Path) -> None:
    leader, other = small_cache(tmp_path, 2), small_cache(tmp_path, 2)
    needed = leader.get_or_create(key_of("needed"), Producer("needed"))
    leader.pin(key_of("needed"), holder="delivery:7")
    other.refresh()  # it now counts the leader's entry
    for name in "wxyz":
        other.get_or_create(key_of(name), Producer(name))
    assert other.path_for_audio_sha256(needed.audio_sha256) is not None
    assert other.pinned() == {key_of("needed"): frozenset({"delivery:7"})}
    other.pin(key_of("z"), holder="delivery:8")  # pins of both are kept: neither overwrites the other's
    assert set(leader.pinned()) == {key_of("needed"), key_of("z")}

    leader.unpin(key_of("needed"), holder="delivery:7")
    leader.refresh()
    for name in "pq":
        leader.get_or_create(key_of(name), Producer(name))
    assert other.path_for_audio_sha256(needed.audio_sha256) is None  # evicted once unpinned, pointer gone
    assert not (tmp_path / "by-sha256" / needed.audio_sha256).exists()
    assert key_of("z") in leader and other.get(key_of("z")) is not None


def test_refresh_forgets_entries_another_replica_evicted(tmp_path: Path) -> None:
    first, second = AudioCache(tmp_path), AudioCache(tmp_path)
    first.get_or_create(key_of("a"), Producer("a"))
    assert second.refresh() == 1 and key_of("a") in second
    (tmp_path / f"{key_of('a')}.json").unlink()  # what the other replica's eviction does first
    second.refresh()
    assert key_of("a") not in second and second.total_bytes == 0
