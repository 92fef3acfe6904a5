"""Entries checked against their sidecars: damaged ones are never served and are made again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from broadcaster.cache import AudioCache
from tests.cache.support import Producer, audio, key_of


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
