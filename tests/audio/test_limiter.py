"""The true-peak limiter: its gain curve never lets the oversampled envelope past the ceiling."""

from __future__ import annotations

import numpy as np
import pytest

from broadcaster.audio.limiter import limit, limiter_gain, phase_rotate, true_peak_envelope
from broadcaster.audio.loudness import integrated_lufs, true_peak_dbtp
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from tests.audio.signals import noise, scaled, speech_like, tone


@pytest.mark.parametrize("make", [lambda: noise(3.0, 0.4), lambda: scaled(speech_like(3.0), 6.0, clip=True)])
def test_limited_signal_stays_under_the_ceiling_between_samples(make) -> None:
    pcm = make()
    ceiling = 10 ** (-3.0 / 20)
    envelope = true_peak_envelope(pcm.samples)
    assert envelope.max() > ceiling  # the test input really needs limiting
    limited = Pcm(limit(pcm.samples, envelope, 2.0, ceiling, SAMPLE_RATE))
    # Measured afresh on the output, not trusted from the curve; 0.05 dB for interpolation error.
    assert true_peak_dbtp(limited) <= -3.0 + 0.05
    assert np.all(np.isfinite(limited.samples))


def test_gain_curve_is_smooth_and_at_most_one() -> None:
    envelope = np.full(SAMPLE_RATE, 0.1, dtype=np.float32)
    envelope[SAMPLE_RATE // 2] = 1.0  # one peak, 10 dB over the ceiling below
    curve = limiter_gain(envelope, 0.5, SAMPLE_RATE)
    assert curve.max() <= 1.0
    assert curve[SAMPLE_RATE // 2] <= 0.5 + 1e-6
    assert curve[0] == 1.0 and curve[-1] == 1.0  # untouched far from the peak
    # Smooth: no step larger than a ramp of ~15 ms allows.
    assert np.max(np.abs(np.diff(curve))) < 0.01


def test_signal_below_the_ceiling_is_left_alone() -> None:
    pcm = tone(440, 1.0, 0.3)
    envelope = true_peak_envelope(pcm.samples)
    assert np.array_equal(limit(pcm.samples, envelope, 1.0, 0.9, SAMPLE_RATE), pcm.samples)


def test_phase_rotation_lowers_speech_peaks_without_changing_loudness(speech_pcm) -> None:
    # Real voiced speech is lopsided; the synthetic stand-in is not, so this needs the engine.
    pytest.importorskip("broadcaster.tts.espeak")
    pcm = speech_pcm
    rotated = Pcm(phase_rotate(pcm.samples, SAMPLE_RATE))
    assert true_peak_dbtp(rotated) < true_peak_dbtp(pcm) - 0.5
    assert integrated_lufs(rotated) == pytest.approx(integrated_lufs(pcm), abs=0.1)


def test_empty_input_gives_empty_envelope() -> None:
    assert len(true_peak_envelope(np.zeros(0, dtype=np.float32))) == 0


@pytest.mark.parametrize("length", [1, 2, 13, 4000])
def test_the_envelope_is_the_peak_of_the_4x_oversampled_waveform(length: int) -> None:
    from scipy.signal import firwin, upfirdn

    samples = noise(1.0, 0.3).samples[:length]
    # Reference: upsample by 4 with the BS.1770-4 style interpolator; per sample, the peak of the sample
    # itself and the three interpolated values after it.
    taps = firwin(49, 0.25, window=("kaiser", 6.0)) * 4
    upsampled = np.abs(upfirdn(taps, samples.astype(np.float64), 4)[24 : 24 + 4 * length]).reshape(length, 4)
    expected = np.maximum(upsampled[:, 1:].max(axis=1), np.abs(samples))
    np.testing.assert_allclose(true_peak_envelope(samples), expected, rtol=0, atol=1e-5)
