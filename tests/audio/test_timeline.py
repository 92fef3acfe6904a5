"""Arranging audio in time: trimming, pauses, repeats, conforming."""

from __future__ import annotations

import numpy as np
import pytest

from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.audio.timeline import (
    conform,
    fade_edges,
    join_with_pauses,
    pause,
    repeat_with_gap,
    trim_silence,
)
from tests.audio.signals import tone


def test_pause_is_digital_silence_of_the_asked_length() -> None:
    gap = pause(0.45)
    assert len(gap.samples) == round(0.45 * SAMPLE_RATE)
    assert not np.any(gap.samples)


def test_join_puts_one_pause_between_neighbours() -> None:
    a, b, c = tone(300, 1.0, 0.3), tone(400, 0.5, 0.3), tone(500, 0.25, 0.3)
    joined = join_with_pauses([a, b, c], 0.45)
    assert joined.duration_s == pytest.approx(1.75 + 2 * 0.45, abs=3 / SAMPLE_RATE)  # rounding to samples
    start_of_b = len(a.samples) + round(0.45 * SAMPLE_RATE)
    assert np.array_equal(joined.samples[start_of_b : start_of_b + len(b.samples)], b.samples)


def test_repeat_plays_n_times_with_gaps() -> None:
    piece = tone(300, 1.0, 0.3)
    assert repeat_with_gap(piece, 3, 2.0).duration_s == pytest.approx(3 * 1.0 + 2 * 2.0, abs=1e-3)
    assert repeat_with_gap(piece, 1, 2.0).duration_s == pytest.approx(1.0, abs=1e-3)


def test_trim_removes_silent_edges_but_keeps_the_sound() -> None:
    sound = tone(440, 1.0, 0.3)
    padded = pause(0.7).concat(sound, pause(1.2))
    trimmed = trim_silence(padded)
    assert trimmed.duration_s == pytest.approx(1.0, abs=0.08)
    assert np.max(np.abs(trimmed.samples)) == pytest.approx(0.3, abs=0.01)


def test_trim_of_silence_is_empty() -> None:
    assert len(trim_silence(pause(1.0)).samples) == 0


def test_fades_start_and_end_at_zero() -> None:
    faded = fade_edges(Pcm(np.ones(SAMPLE_RATE, dtype=np.float32)))
    assert faded.samples[0] == 0.0 and faded.samples[-1] == 0.0
    assert faded.samples[SAMPLE_RATE // 2] == 1.0


def test_conform_resamples_and_cleans() -> None:
    samples = np.sin(np.arange(48000) * 2 * np.pi * 440 / 48000).astype(np.float32)
    samples[10] = np.nan
    out = conform(Pcm(samples, 48000))
    assert out.sample_rate == SAMPLE_RATE
    assert out.duration_s == pytest.approx(1.0, abs=1e-3)
    assert np.all(np.isfinite(out.samples))
