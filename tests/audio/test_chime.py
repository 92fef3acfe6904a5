"""The synthesized chimes: distinct intro and outro, the notes they promise, levelled and click-free."""

from __future__ import annotations

import numpy as np
import pytest

from broadcaster.audio.chime import INTRO_NOTES, OUTRO_NOTES, chime, synthesize_chime
from broadcaster.audio.loudness import integrated_lufs, true_peak_dbtp
from broadcaster.audio.pcm import SAMPLE_RATE
from tests.audio.signals import dominant_frequency


def note_pitches(samples: np.ndarray, notes) -> list[float]:
    """The dominant frequency 30-130 ms after each note's onset."""
    pitches = []
    for note in notes:
        start = int((note.start_s + 0.03) * SAMPLE_RATE)
        pitches.append(dominant_frequency(samples[start : start + int(0.1 * SAMPLE_RATE)]))
    return pitches


@pytest.mark.parametrize("kind", ["intro", "outro"])
def test_each_note_sounds_at_its_pitch(kind) -> None:
    notes = INTRO_NOTES if kind == "intro" else OUTRO_NOTES
    pitches = note_pitches(synthesize_chime(kind).samples, notes)
    assert pitches == pytest.approx([note.freq_hz for note in notes], abs=6.0)


def test_intro_rises_and_outro_falls() -> None:
    intro = note_pitches(synthesize_chime("intro").samples, INTRO_NOTES)
    outro = note_pitches(synthesize_chime("outro").samples, OUTRO_NOTES)
    assert intro == sorted(intro) and outro == sorted(outro, reverse=True)
    assert len(intro) != len(outro) or intro != outro


def test_chimes_are_levelled_below_speech_and_under_the_ceiling() -> None:
    for kind in ("intro", "outro"):
        levelled = chime(kind, -16.0, -1.5)
        assert integrated_lufs(levelled) == pytest.approx(-18.0, abs=0.3)
        assert true_peak_dbtp(levelled) <= -2.5 + 0.05
        assert not levelled.samples.flags.writeable  # shared through a cache


def test_chimes_start_and_end_quietly_and_are_deterministic() -> None:
    raw = synthesize_chime("outro").samples
    peak = np.max(np.abs(raw))
    assert abs(raw[0]) < 0.01 * peak and abs(raw[-1]) < 0.01 * peak
    assert np.array_equal(raw, synthesize_chime("outro").samples)
    assert 1.0 < len(raw) / SAMPLE_RATE < 4.0
