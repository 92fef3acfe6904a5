"""The content-addressed audio cache: keys, hits and misses, single flight, atomicity, corruption, LRU, pins."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster.audio.loudness import Loudness
from broadcaster.audio.render import RenderedAudio, RenderOptions
from broadcaster.cache import AudioCache, InvalidCacheKey, cache_key, upload_cache_key
from broadcaster.tts.base import SynthesisOptions

LOUDNESS = Loudness(integrated_lufs=-16.1, true_peak_dbtp=-2.3, duration_s=4.2)


def audio(seed: str, size: int = 4000) -> RenderedAudio:
    """A rendering stand-in: distinct bytes per seed (the cache never decodes them)."""
    block = hashlib.sha256(seed.encode()).digest()
    data = (block * (size // len(block) + 1))[:size]
    return RenderedAudio(data=data, fmt="mp3", loudness=LOUDNESS, info={"text": seed, "engine": "espeak"})


def key_of(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


class Producer:
    """Counts productions (thread-safe) and can be told to fail or to wait."""

    def __init__(self, seed: str = "x", size: int = 4000, delay_s: float = 0.0) -> None:
        self.seed, self.size, self.delay_s = seed, size, delay_s
        self.calls = 0
        self.fail_with: Exception | None = None
        self._lock = threading.Lock()

    def __call__(self) -> RenderedAudio:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        return audio(self.seed, self.size)


class Clock:
    """A clock that advances one second per reading, so LRU order is the order of use."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def cache(tmp_path: Path) -> AudioCache:
    return AudioCache(tmp_path / "cache", 10 * 1024 * 1024)


# ------------------------------------------------------------------------------------------ keys


def test_key_is_stable_and_covers_everything_that_changes_the_sound() -> None:
    base = cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions())
    assert base == cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions())
    variants = {
        cache_key("Xin chào!", "espeak", SynthesisOptions(), RenderOptions()),
        cache_key("Xin chào", "gtts", SynthesisOptions(), RenderOptions()),
        cache_key("Xin chào", "espeak", SynthesisOptions(voice="vi+f2"), RenderOptions()),
        cache_key("Xin chào", "espeak", SynthesisOptions(rate=1.2), RenderOptions()),
        cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions(repeat=2)),
        cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions(chime=False)),
        cache_key("Xin chào", "espeak", SynthesisOptions(), RenderOptions(), voice="vi+m3"),
    }
    assert base not in variants and len(variants) == 7


def test_key_normalizes_text_to_nfc() -> None:
    composed = unicodedata.normalize("NFC", "Thông báo về lũ lụt")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert cache_key(composed, "espeak", SynthesisOptions(), RenderOptions()) == cache_key(
        decomposed, "espeak", SynthesisOptions(), RenderOptions()
    )


def test_upload_key_covers_the_upload_and_render_options() -> None:
    sha = hashlib.sha256(b"recording").hexdigest()
    key = upload_cache_key(sha, RenderOptions())
    assert len(key) == 64
    assert key == upload_cache_key(sha.upper(), RenderOptions())
    assert key != upload_cache_key(hashlib.sha256(b"other").hexdigest(), RenderOptions())
    assert key != upload_cache_key(sha, RenderOptions(repeat=3))


def test_bad_keys_are_refused(cache: AudioCache) -> None:
    for bad in ("../../etc/passwd", "A" * 64, "abc", ""):
        with pytest.raises(InvalidCacheKey):
            cache.get_or_create(bad, Producer())


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


# ------------------------------------------------------------------------------------------ atomicity, restart


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


# ------------------------------------------------------------------------------------------ corruption


def damage_truncate(audio_path: Path, sidecar: Path) -> None:
    audio_path.write_bytes(audio_path.read_bytes()[:-100])


def damage_flip_byte(audio_path: Path, sidecar: Path) -> None:
    data = bytearray(audio_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    audio_path.write_bytes(bytes(data))  # same size: only the sha256 can tell


def damage_delete_sidecar(audio_path: Path, sidecar: Path) -> None:
    sidecar.unlink()


def damage_garble_sidecar(audio_path: Path, sidecar: Path) -> None:
    sidecar.write_text("{not json", encoding="utf-8")


def damage_delete_audio(audio_path: Path, sidecar: Path) -> None:
    audio_path.unlink()


DAMAGES: list[Callable[[Path, Path], None]] = [
    damage_truncate, damage_flip_byte, damage_delete_sidecar, damage_garble_sidecar, damage_delete_audio,
]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda damage: damage.__name__)
def test_damaged_entries_are_detected_and_made_again(cache: AudioCache, damage) -> None:
    produce = Producer("precious")
    key = key_of("precious")
    entry = cache.get_or_create(key, produce)
    damage(entry.path, cache.directory / f"{key}.json")
    assert cache.get(key) is None  # never served
    again = cache.get_or_create(key, produce)
    assert again.outcome == "miss" and produce.calls == 2
    assert again.read_bytes() == audio("precious").data


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda damage: damage.__name__)
def test_damage_found_at_start_up_or_on_first_read(tmp_path: Path, damage) -> None:
    produce = Producer("precious")
    key = key_of("precious")
    entry = AudioCache(tmp_path).get_or_create(key, produce)
    damage(entry.path, tmp_path / f"{key}.json")
    restarted = AudioCache(tmp_path, stale_temp_after_s=0)
    assert restarted.get(key) is None
    assert restarted.path_for_audio_sha256(entry.audio_sha256) is None
    assert restarted.get_or_create(key, produce).outcome == "miss"


# ------------------------------------------------------------------------------------------ LRU and pins


def small_cache(directory: Path, entries: int) -> AudioCache:
    """A cache that holds ``entries`` entries of 4000 bytes (plus their sidecars)."""
    return AudioCache(directory, entries * 4000 + entries * 900, clock=Clock())


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
