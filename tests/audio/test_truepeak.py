"""The renderer's own meter (true peak at 8x, BS.1770 loudness on PCM in pieces) against known values and ffmpeg."""

from __future__ import annotations

import math

import numpy as np
import pytest

from broadcaster.audio.codec import encode_audio
from broadcaster.audio.loudness import EncodingJob, StreamingMeter, gated_power, measure_loudness
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.audio.truepeak import TruePeakMeter, true_peak
from tests.audio.signals import noise, tone


def faded(samples: np.ndarray, fade: int = 2000) -> np.ndarray:
    """``samples`` faded in and out: a tone switched on abruptly overshoots, which is not what is tested."""
    n = np.arange(len(samples))
    return (samples * np.minimum(1.0, np.minimum(n, n[::-1]) / fade)).astype(np.float32)


def dbtp(linear: float) -> float:
    return 20.0 * math.log10(linear)


def test_an_intersample_peak_reads_above_the_sample_peak_as_ffmpeg_reads_it() -> None:
    # A quarter-rate sine sampled at 45 degrees: every sample is at 0.707 of the real peak (-3 dB).
    n = np.arange(SAMPLE_RATE * 2)
    pcm = Pcm(faded(0.5 * np.sin(np.pi / 2 * n + np.pi / 4)))
    sample_peak = dbtp(float(np.max(np.abs(pcm.samples))))
    ours = dbtp(true_peak(pcm.samples))
    assert sample_peak == pytest.approx(-9.03, abs=0.01)
    assert ours == pytest.approx(-6.02, abs=0.05)
    assert ours > sample_peak + 2.9
    assert ours == pytest.approx(measure_loudness(encode_audio(pcm, "wav")).true_peak_dbtp, abs=0.5)


@pytest.mark.parametrize("freq", [997.0, 5000.0, 9000.0, 10000.0])
def test_tones_read_their_amplitude_whatever_their_phase(freq: float) -> None:
    # At 8x the reconstruction is sampled finely enough to miss a tone's crest by under 0.15 dB.
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    for phase in np.linspace(0.0, np.pi, 9):
        reading = dbtp(true_peak(faded(0.5 * np.sin(2 * np.pi * freq * t + phase))))
        assert reading == pytest.approx(-6.02, abs=0.15), (freq, phase)


def test_pieces_of_any_size_read_as_the_whole() -> None:
    samples = noise(5.0, 0.2).samples
    whole = true_peak(samples)
    for size in (1, 777, 16321, 16322, 50000):
        meter = TruePeakMeter()
        for start in range(0, min(len(samples), 200 * size), size):
            meter.feed(samples[start : start + size])
        if 200 * size < len(samples):
            meter.feed(samples[200 * size :])
        assert meter.peak == pytest.approx(whole, rel=1e-6), size


def test_silence_has_no_true_peak() -> None:
    assert TruePeakMeter().dbtp == float("-inf")
    assert true_peak(np.zeros(1000, np.float32)) == 0.0


def test_the_streaming_meter_reads_the_same_whatever_the_pieces(speech_pcm: Pcm) -> None:
    whole = StreamingMeter(SAMPLE_RATE)
    whole.feed(speech_pcm.samples)
    pieces = StreamingMeter(SAMPLE_RATE)
    for start in range(0, len(speech_pcm.samples), 4321):
        pieces.feed(speech_pcm.samples[start : start + 4321])
    reading = pieces.result()
    assert reading.integrated_lufs == pytest.approx(whole.result().integrated_lufs, abs=1e-9)
    assert reading.true_peak_dbtp == pytest.approx(whole.result().true_peak_dbtp, abs=1e-6)
    assert reading.duration_s == pytest.approx(speech_pcm.duration_s)
    assert reading.true_peak_dbtp >= dbtp(float(np.max(np.abs(speech_pcm.samples))))
    # pyloudnorm's filter (the leveller's) reads ~0.05 LU lower than BS.1770's own.
    assert reading.integrated_lufs == pytest.approx(gated_power(speech_pcm).integrated_lufs + 0.09, abs=0.06)


def test_the_streaming_meter_is_calibrated_as_bs1770_says() -> None:
    # BS.1770: a 997 Hz sine at full scale in one channel, at 48 kHz, reads -3.01 LUFS.
    t = np.arange(48000 * 5) / 48000
    meter = StreamingMeter(48000)
    meter.feed(np.sin(2 * np.pi * 997 * t))
    assert meter.result().integrated_lufs == pytest.approx(-3.01, abs=0.01)
    # At 22.05 kHz the filter bends a little (the bilinear transform): within a tenth of a LU.
    at_22k = StreamingMeter(SAMPLE_RATE)
    at_22k.feed(tone(997, 5.0, 1.0).samples)
    assert at_22k.result().integrated_lufs == pytest.approx(-3.01, abs=0.1)


def test_the_streaming_meter_is_strict_about_the_gating_block() -> None:
    # Shorter than one 400 ms block: a peak, but no integrated loudness (as ffmpeg reports it).
    meter = StreamingMeter(SAMPLE_RATE)
    meter.feed(tone(1000, 0.3, 0.5).samples)
    assert meter.result().integrated_lufs == float("-inf")
    assert meter.result().true_peak_dbtp == pytest.approx(-6.02, abs=0.1)
    silent = StreamingMeter(SAMPLE_RATE)
    silent.feed(np.zeros(SAMPLE_RATE, np.float32))
    assert silent.result().integrated_lufs == float("-inf") and silent.result().true_peak_dbtp == float("-inf")


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "wav"])
@pytest.mark.parametrize("name", ["speech", "noise", "tone"])
def test_the_encoders_meter_agrees_with_ffmpeg_on_what_was_encoded(fmt: str, name: str, speech_pcm: Pcm) -> None:
    pcm = {"speech": speech_pcm, "noise": noise(6.0, 0.25), "tone": Pcm(faded(tone(1000, 3.0, 0.5).samples))}[name]
    data, ours = EncodingJob(fmt, "64k", SAMPLE_RATE).finish(pcm)
    ffmpeg = measure_loudness(data)  # prints one decimal
    assert ours.integrated_lufs == pytest.approx(ffmpeg.integrated_lufs, abs=0.15)
    assert ours.true_peak_dbtp == pytest.approx(ffmpeg.true_peak_dbtp, abs=0.5)
    assert ours.duration_s == pytest.approx(ffmpeg.duration_s, abs=0.002)
