"""Levelling on PCM: target loudness (pyloudnorm) with the true peak under the ceiling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from broadcaster.audio.levelling import MAX_GAIN_DB, level
from broadcaster.audio.loudness import integrated_lufs, true_peak_dbtp
from broadcaster.audio.pcm import Pcm
from tests.audio.signals import noise, scaled, tone


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("quiet speech", lambda speech: scaled(speech, 0.05)),
        ("loud clipped speech", lambda speech: scaled(speech, 8.0, clip=True)),
        ("tone", lambda speech: tone(1000, 8.0, 0.05)),
        ("noise", lambda speech: noise(8.0, 0.02)),
    ],
)
def test_levelled_pcm_meets_target_and_ceiling(name, make, speech_pcm) -> None:
    result = level(make(speech_pcm), -16.0, -1.5, margin_db=1.0)
    assert integrated_lufs(result.pcm) == pytest.approx(-16.0, abs=0.2), name
    assert result.integrated_lufs == pytest.approx(integrated_lufs(result.pcm), abs=0.1), "prediction"
    assert true_peak_dbtp(result.pcm) <= -2.5 + 0.05, name


def test_gain_is_capped_for_near_silent_input(speech_pcm) -> None:
    whisper = scaled(speech_pcm, 10 ** (-50 / 20))  # ~ -68 LUFS: 52 dB short of the target
    result = level(whisper, -16.0, -1.5)
    assert result.gain_db == pytest.approx(MAX_GAIN_DB)
    assert integrated_lufs(result.pcm) < -30.0
    assert np.all(np.isfinite(result.pcm.samples))


def test_silence_and_nan_do_not_blow_up() -> None:
    samples = np.zeros(22050, dtype=np.float32)
    samples[100] = np.nan
    samples[200] = np.inf
    result = level(Pcm(samples))
    assert np.all(np.isfinite(result.pcm.samples))
    assert math.isinf(result.integrated_lufs)


def test_very_short_clip_is_levelled() -> None:
    result = level(tone(800, 0.15, 0.01))
    assert np.all(np.isfinite(result.pcm.samples))
    assert integrated_lufs(result.pcm) == pytest.approx(-16.0, abs=0.3)
