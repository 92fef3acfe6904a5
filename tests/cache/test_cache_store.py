"""The audio store: hits and misses, single flight, LRU eviction and pins."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from pathlib import Path

import pytest

from broadcaster.cache import AudioCache, InvalidCacheKey
from tests.cache.support import LOUDNESS, Producer, audio, key_of, small_cache

# ------------------------------------------------------------------------------------------ hit / miss


def test_miss_then_hit_with_sidecar_metadata(cache: AudioCache) -> None:
    produce = Producer("bulletin")
    key = key_of("a")
    first = cache.get_or_create(key, produce)
    second = cache.get_or_create(key, produce)
    assert (first.outcome, second.outcome) == ("miss", "hit")
    assert not first.hit and second.hit
    assert produce.calls == 1
    expected = audio("bulletin")
    assert second.read_bytes() == expected.data
    assert second.audio_sha256 == expected.sha256 and second.size == len(expected.data)
    assert second.loudness == LOUDNESS and second.duration_s == pytest.approx(4.2)
    sidecar = json.loads((cache.directory / f"{key}.json").read_text(encoding="utf-8"))
    assert sidecar["engine"] == "espeak" and sidecar["text"] == "bulletin"
    assert sidecar["audio_sha256"] == expected.sha256 and sidecar["size"] == len(expected.data)
    assert sidecar["loudness"]["integrated_lufs"] == pytest.approx(-16.1)
    assert sidecar["created_at"].endswith("+07:00")
    assert cache.get(key_of("never stored")) is None


def test_provenance_cannot_overwrite_the_cache_fields(cache: AudioCache) -> None:
    rendered = audio("y").with_info(audio_sha256="forged", size=1)
    entry = cache.get_or_create(key_of("forge"), lambda: rendered)
    assert entry.metadata["audio_sha256"] == rendered.sha256
    assert cache.get(key_of("forge")) is not None


def test_entries_are_found_by_the_audio_sha256(cache: AudioCache) -> None:
    entry = cache.get_or_create(key_of("a"), Producer("findme"))
    path = cache.path_for_audio_sha256(entry.audio_sha256)
    assert path is not None and hashlib.sha256(path.read_bytes()).hexdigest() == entry.audio_sha256
    assert cache.path_for_audio_sha256(hashlib.sha256(b"nope").hexdigest()) is None
    assert cache.path_for_audio_sha256("../secret") is None


# ------------------------------------------------------------------------------------------ single flight


def test_twenty_threads_share_one_production(cache: AudioCache) -> None:
    produce = Producer("shared", delay_s=0.3)
    barrier = threading.Barrier(20)
    results: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        entry = cache.get_or_create(key_of("popular"), produce)
        with lock:
            results.append(entry.outcome)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert produce.calls == 1
    assert sorted(results).count("miss") == 1 and len(results) == 20
    assert set(results) <= {"miss", "shared", "hit"}


def test_a_failed_production_reaches_every_waiter_and_the_next_call_retries(cache: AudioCache) -> None:
    produce = Producer("flaky", delay_s=0.3)
    produce.fail_with = RuntimeError("engine fell over")
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def ask() -> None:
        barrier.wait()
        try:
            cache.get_or_create(key_of("flaky"), produce)
        except RuntimeError as error:
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert produce.calls == 1 and len(errors) == 5
    produce.fail_with = None
    assert cache.get_or_create(key_of("flaky"), produce).outcome == "miss"
    assert produce.calls == 2


async def test_asyncio_callers_share_one_production(cache: AudioCache) -> None:
    produce = Producer("async", delay_s=0.2)
    entries = await asyncio.gather(*(cache.aget_or_create(key_of("async"), produce) for _ in range(8)))
    assert produce.calls == 1
    assert len({entry.audio_sha256 for entry in entries}) == 1


# ------------------------------------------------------------------------------------------ LRU and pins


def test_least_recently_used_entries_go_first(tmp_path: Path) -> None:
    cache = small_cache(tmp_path, 3)
    for name in "abc":
        cache.get_or_create(key_of(name), Producer(name))
    cache.get(key_of("a"))  # a is now the most recent; b the least
    cache.get_or_create(key_of("d"), Producer("d"))
    assert key_of("b") not in cache
    assert all(key_of(name) in cache for name in "acd")
    assert cache.total_bytes <= cache.max_bytes
    assert not (tmp_path / f"{key_of('b')}.mp3").exists() and not (tmp_path / f"{key_of('b')}.json").exists()


def test_pinned_entries_are_never_evicted_and_pins_persist(tmp_path: Path) -> None:
    cache = small_cache(tmp_path, 2)
    cache.pin(key_of("needed"), holder="airing-1")
    cache.pin(key_of("needed"), holder="airing-2")
    cache.get_or_create(key_of("needed"), Producer("needed"))
    for name in "wxyz":
        cache.get_or_create(key_of(name), Producer(name))
    assert key_of("needed") in cache  # the oldest, but pinned

    restarted = small_cache(tmp_path, 2)
    for name in "pq":
        restarted.get_or_create(key_of(name), Producer(name))
    assert key_of("needed") in restarted

    restarted.unpin(key_of("needed"), holder="airing-1")
    restarted.get_or_create(key_of("r"), Producer("r"))
    assert key_of("needed") in restarted  # airing-2 still holds it
    restarted.unpin(key_of("needed"), holder="airing-2")
    restarted.get_or_create(key_of("s"), Producer("s"))
    assert key_of("needed") not in restarted
    assert restarted.total_bytes <= restarted.max_bytes


def test_an_entry_being_read_is_not_evicted(tmp_path: Path) -> None:
    cache = small_cache(tmp_path, 2)
    for name in "ab":
        cache.get_or_create(key_of(name), Producer(name))
    with cache.lease(key_of("a")) as entry:
        assert entry is not None
        cache.get(key_of("b"))  # a is now the least recently used... but leased
        for name in "cd":
            cache.get_or_create(key_of(name), Producer(name))
        assert entry.path.exists() and key_of("a") in cache
    cache.get_or_create(key_of("e"), Producer("e"))
    assert key_of("a") not in cache


def test_a_new_entry_larger_than_the_cap_is_still_returned_whole(tmp_path: Path) -> None:
    cache = small_cache(tmp_path, 1)
    cache.get_or_create(key_of("small"), Producer("small"))
    big = cache.get_or_create(key_of("big"), Producer("big", size=20000))
    assert big.path.exists() and big.read_bytes() == audio("big", 20000).data
    assert key_of("small") not in cache


# ------------------------------------------------------------------------------------------ reusing a batch's reads


def test_within_reusing_an_entry_is_read_and_verified_once(cache: AudioCache) -> None:
    key = key_of("master")
    made = cache.get_or_create(key, Producer("master"))
    path = made.path
    with cache.reusing():
        first = cache.get(key)
        path.write_bytes(b"x" * made.size)  # damaged after the batch read it: the batch keeps what it verified
        again = cache.get_or_create(key, Producer("never called"))
        with cache.reusing():  # nested: the outer block's reads stand
            inner = cache.get(key)
    assert first is not None and again == first and inner == first
    assert cache.get(key) is None  # outside the block every read verifies again: the damage is found


def test_within_reusing_what_was_made_is_a_hit_afterwards(cache: AudioCache) -> None:
    produce = Producer("programme")
    with cache.reusing():
        made = cache.get_or_create(key_of("p"), produce)
        again = cache.get_or_create(key_of("p"), produce)
    assert (made.outcome, again.outcome, produce.calls) == ("miss", "hit", 1)


def test_reusing_is_per_thread(cache: AudioCache) -> None:
    key = key_of("shared")
    made = cache.get_or_create(key, Producer("shared"))
    seen: list[object] = []
    with cache.reusing():
        assert cache.get(key) is not None
        made.path.write_bytes(b"y" * made.size)
        reader = threading.Thread(target=lambda: seen.append(cache.get(key)))  # no block of its own
        reader.start()
        reader.join()
    assert seen == [None]


def test_pin_many_pins_every_pair_in_one_write(cache: AudioCache) -> None:
    keys = [key_of(f"k{i}") for i in range(3)]
    cache.pin_many([(keys[0], "delivery:1"), (keys[0], "delivery:2"), (keys[1], "delivery:2")])
    cache.pin_many([])
    assert cache.pinned() == {keys[0]: frozenset({"delivery:1", "delivery:2"}), keys[1]: frozenset({"delivery:2"})}
    with pytest.raises(InvalidCacheKey):
        cache.pin_many([(keys[2], "delivery:3"), ("../pins", "delivery:3")])
    assert keys[2] not in cache.pinned()  # a bad key refuses the whole call before anything is written
