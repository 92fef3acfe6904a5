"""Decoding uploads ffmpeg reads (with size and length limits) and rendering them to broadcast level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from broadcaster.audio.codec import (
    AudioTooLarge,
    AudioTooLong,
    UnreadableAudio,
    decode_audio,
    encode_audio,
)
from broadcaster.audio.loudness import measure_loudness
from broadcaster.audio.pcm import SAMPLE_RATE
from broadcaster.audio.render import RenderOptions, render_upload
from tests.audio.signals import scaled, write_with_ffmpeg

# What phones and laptops record: (suffix, ffmpeg codec arguments).
RECORDING_FORMATS = [
    ("wav", ["-c:a", "pcm_s16le"]),
    ("ogg", ["-c:a", "libvorbis"]),
    ("flac", ["-c:a", "flac"]),
    ("m4a", ["-c:a", "aac", "-b:a", "96k"]),
    # Apple Lossless in MP4 with its index at the end: ffmpeg cannot read it from a pipe, only from a file.
    ("mp4", ["-c:a", "alac", "-f", "mp4"]),
]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory, speech_pcm) -> dict[str, Path]:
    """The speech recorded quietly (about -30 LUFS) at 44.1 kHz stereo in each format."""
    folder = tmp_path_factory.mktemp("recordings")
    quiet = scaled(speech_pcm, 0.25)
    return {
        suffix: write_with_ffmpeg(quiet, folder / f"bulletin.{suffix}", *args)
        for suffix, args in RECORDING_FORMATS
    }


@pytest.mark.parametrize("suffix", [suffix for suffix, _ in RECORDING_FORMATS])
def test_uploads_in_any_format_render_to_broadcast_level(recordings, suffix, speech_pcm) -> None:
    path = recordings[suffix]
    from_path = render_upload(path, RenderOptions(chime=False))
    from_bytes = render_upload(path.read_bytes(), RenderOptions(chime=False))
    for rendered in (from_path, from_bytes):
        measured = measure_loudness(rendered.data)
        assert measured.integrated_lufs == pytest.approx(-16.0, abs=1.0)
        assert measured.true_peak_dbtp <= -1.5
        assert measured.duration_s == pytest.approx(speech_pcm.duration_s, abs=1.5)  # edges trimmed
    assert from_path.sha256 == from_bytes.sha256


def test_decode_gives_mono_at_the_pipeline_rate(recordings, speech_pcm) -> None:
    pcm = decode_audio(recordings["flac"])
    assert pcm.sample_rate == SAMPLE_RATE
    assert pcm.samples.ndim == 1
    assert pcm.duration_s == pytest.approx(speech_pcm.duration_s, abs=0.05)


def test_too_large_upload_is_refused_before_decoding(recordings) -> None:
    data = recordings["wav"].read_bytes()
    with pytest.raises(AudioTooLarge) as caught:
        render_upload(data, max_bytes=len(data) - 1)
    assert caught.value.code == "audio_too_large" and "MB" in caught.value.message
    with pytest.raises(AudioTooLarge):
        decode_audio(recordings["wav"], max_bytes=1000)


def test_too_long_upload_is_refused(recordings) -> None:
    with pytest.raises(AudioTooLong) as caught:
        render_upload(recordings["ogg"], max_duration_s=5.0)
    assert caught.value.code == "audio_too_long"
    assert "phút" in caught.value.message


@pytest.mark.parametrize("junk", [b"", b"RIFF\x00\x00\x00\x00WAVEjunk", b"\x00" * 5000, "missing"])
def test_unreadable_uploads_are_a_clear_error(junk, tmp_path) -> None:
    source = tmp_path / "nothing-here.mp3" if junk == "missing" else junk
    with pytest.raises(UnreadableAudio) as caught:
        render_upload(source)
    assert caught.value.code == "audio_unreadable"
    assert caught.value.status == 422


def test_truncated_mp3_still_decodes_what_is_there(speech_pcm) -> None:
    data = encode_audio(speech_pcm)
    pcm = decode_audio(data[: len(data) // 2])
    assert pcm.duration_s == pytest.approx(speech_pcm.duration_s / 2, abs=0.5)
    assert np.all(np.isfinite(pcm.samples))


def test_encoding_is_deterministic(speech_pcm) -> None:
    assert encode_audio(speech_pcm) == encode_audio(speech_pcm)


def test_paths_may_be_given_as_strings(recordings) -> None:
    path = recordings["wav"]
    assert np.array_equal(decode_audio(str(path)).samples, decode_audio(path).samples)
    assert measure_loudness(str(path)) == measure_loudness(path)
