"""The upload store: streamed in, capped without reading the rest, proven to be audio, stored by content."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from broadcaster.audio.codec import AudioTooLarge, AudioTooLong, UnreadableAudio
from broadcaster.uploads import CHUNK_BYTES, UploadStore
from tests.api.world import wav_bytes


class EndlessStream(io.RawIOBase):
    """A 200 MB stream that is never materialized; counts what was read from it."""

    def __init__(self, size: int = 200 * 1024 * 1024) -> None:
        self.remaining = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        count = min(self.remaining, CHUNK_BYTES if size < 0 else size)
        self.remaining -= count
        self.read_bytes += count
        return b"\0" * count


@pytest.fixture
def store(tmp_path: Path) -> UploadStore:
    return UploadStore(tmp_path / "uploads", max_bytes=1024 * 1024, max_duration_s=5.0)


def test_a_recording_is_stored_under_its_sha256(store: UploadStore) -> None:
    audio = wav_bytes(0.5)
    stored = store.save(io.BytesIO(audio))
    assert stored.sha256 == hashlib.sha256(audio).hexdigest() and stored.size == len(audio)
    assert stored.path == store.directory / stored.sha256 and stored.path.read_bytes() == audio
    assert abs(stored.duration_s - 0.5) < 0.05
    again = store.save(io.BytesIO(audio))
    assert again.path == stored.path and os.listdir(store.directory) == [stored.sha256]
    assert store.path_for(stored.sha256) == stored.path
    assert store.path_for("../etc/passwd") is None and store.path_for("0" * 64) is None


def test_an_oversized_stream_is_refused_after_the_cap_not_after_the_end(store: UploadStore) -> None:
    stream = EndlessStream()
    with pytest.raises(AudioTooLarge) as refused:
        store.save(stream)  # type: ignore[arg-type]
    assert refused.value.status == 413
    assert stream.read_bytes <= store.max_bytes + CHUNK_BYTES
    assert os.listdir(store.directory) == []


@pytest.mark.parametrize("content", [b"", os.urandom(20_000), b"<html>not audio</html>"])
def test_what_is_not_audio_is_refused_and_leaves_nothing(store: UploadStore, content: bytes) -> None:
    with pytest.raises(UnreadableAudio):
        store.save(io.BytesIO(content))
    assert os.listdir(store.directory) == []


def test_a_recording_longer_than_allowed_is_refused(store: UploadStore) -> None:
    with pytest.raises(AudioTooLong):
        store.save(io.BytesIO(wav_bytes(6.0, rate=8000)))
    assert os.listdir(store.directory) == []
