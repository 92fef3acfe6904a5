"""Loudness measurement: pyloudnorm on PCM and ffmpeg ebur128 on encoded files agree with known values."""

from __future__ import annotations

import math

import pytest

from broadcaster.audio.codec import UnreadableAudio, encode_audio
from broadcaster.audio.loudness import (
    Loudness,
    gated_power,
    integrated_lufs,
    measure_loudness,
    true_peak_dbtp,
)
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from tests.audio.signals import noise, speech_like, tone

# BS.1770: a 1 kHz sine at full scale in one channel reads -3.01 LUFS (K-weighting is ~0 dB there).
HALF_SCALE_1K_LUFS = -3.01 - 6.02


def test_pyloudnorm_reads_a_half_scale_sine_as_bs1770_says() -> None:
    assert integrated_lufs(tone(1000, 5.0, 0.5)) == pytest.approx(HALF_SCALE_1K_LUFS, abs=0.1)


def test_ffmpeg_measures_encoded_wav_like_pyloudnorm_and_reports_duration() -> None:
    measured = measure_loudness(encode_audio(tone(1000, 5.0, 0.5), "wav"))
    assert measured.integrated_lufs == pytest.approx(HALF_SCALE_1K_LUFS, abs=0.15)
    assert measured.true_peak_dbtp == pytest.approx(-6.0, abs=0.15)
    assert measured.duration_s == pytest.approx(5.0, abs=0.01)


def test_measure_loudness_reads_a_path(tmp_path) -> None:
    path = tmp_path / "tone.mp3"
    pcm = tone(440, 3.0, 0.25)
    path.write_bytes(encode_audio(pcm))
    measured = measure_loudness(path)
    assert measured.duration_s == pytest.approx(3.0, abs=0.1)
    # The same loudness as the PCM had, less what 64 kb/s MP3 takes (under half a LU).
    assert measured.integrated_lufs == pytest.approx(integrated_lufs(pcm) - 0.3, abs=0.4)


def test_true_peak_sees_between_the_samples() -> None:
    # A quarter-rate sine sampled at 45 degrees: every sample is at 0.707 of the real peak.
    import numpy as np

    n = np.arange(4000)
    pcm = Pcm((0.5 * np.sin(np.pi / 2 * n + np.pi / 4)).astype(np.float32))
    assert float(np.max(np.abs(pcm.samples))) == pytest.approx(0.3536, abs=1e-3)
    assert true_peak_dbtp(pcm) == pytest.approx(-6.02, abs=0.2)


def test_silence_has_no_loudness_and_no_peak() -> None:
    silent = Pcm.silence(2.0)
    assert integrated_lufs(silent) == float("-inf")
    assert true_peak_dbtp(silent) == float("-inf")
    measured = measure_loudness(encode_audio(silent, "wav"))
    assert measured.integrated_lufs == float("-inf")
    assert measured.true_peak_dbtp == float("-inf")


def test_clips_shorter_than_a_gating_block_are_measured_by_their_mean_square() -> None:
    short = tone(1000, 0.2, 0.5)
    assert integrated_lufs(short) == pytest.approx(HALF_SCALE_1K_LUFS, abs=0.3)


def test_loudness_round_trips_through_json_with_silence_as_null() -> None:
    loud = Loudness(-16.04, -2.1, 12.5)
    assert Loudness.from_json(loud.as_json()) == loud
    silent = Loudness(float("-inf"), float("-inf"), 1.0)
    assert silent.as_json()["integrated_lufs"] is None
    restored = Loudness.from_json(silent.as_json())
    assert math.isinf(restored.integrated_lufs) and math.isinf(restored.true_peak_dbtp)


def test_garbage_is_unreadable_audio() -> None:
    with pytest.raises(UnreadableAudio) as caught:
        measure_loudness(b"this is not audio at all" * 100)
    assert caught.value.code == "audio_unreadable"


@pytest.mark.parametrize(
    "name", ["speech", "half-scale tone", "short clip", "noise", "speech-like", "quiet speech", "speech after silence"]
)
def test_the_levellers_meter_reads_what_pyloudnorm_reads(name: str, speech_pcm: Pcm) -> None:
    import numpy as np

    pcm = {
        "speech": lambda: speech_pcm,
        "half-scale tone": lambda: tone(1000, 5.0, 0.5),
        "short clip": lambda: tone(1000, 0.2, 0.5),
        "noise": lambda: noise(3.0, 0.4),
        "speech-like": lambda: speech_like(3.0),
        "quiet speech": lambda: Pcm(speech_pcm.samples * 0.003),  # near the gates: many blocks dropped
        "speech after silence": lambda: Pcm(np.concatenate([np.zeros(SAMPLE_RATE * 5, np.float32),
                                                            speech_pcm.samples])),
    }[name]()
    expected = integrated_lufs(pcm)
    assert math.isfinite(expected)
    assert gated_power(pcm).integrated_lufs == pytest.approx(expected, abs=0.01 if name != "short clip" else 0.1)


def test_the_levellers_meter_counts_only_gated_blocks() -> None:
    import numpy as np

    loud = tone(1000, 4.0, 0.5).samples
    silent_then_loud = Pcm(np.concatenate([np.zeros(SAMPLE_RATE * 4, np.float32), loud]))
    power = gated_power(silent_then_loud).weighted_power
    assert not np.any(power[: SAMPLE_RATE * 3])  # no gated block reaches into the first three seconds
    assert np.all(power[SAMPLE_RATE * 5 : SAMPLE_RATE * 7] > 0)
    assert gated_power(Pcm.silence(2.0)).integrated_lufs == float("-inf")
