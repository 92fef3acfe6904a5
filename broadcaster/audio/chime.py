"""Intro and outro chimes, synthesized here (no samples, no third-party music).

Each note is a struck bar: a few inharmonic partials, each with a soft attack and its own
exponential decay (higher partials die faster, as on a marimba or a small bell). The intro
rises (C5 E5 G5 C6: "listen, news is coming"), the outro falls (G5 E5 C5: "that was all"), so
listeners tell them apart. The notes sit between 500 Hz and 1.1 kHz, where horn loudspeakers
are loud and clear.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from broadcaster.audio.levelling import CODEC_PEAK_MARGIN_DB, TRUE_PEAK_DB, level
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm

ChimeKind = Literal["intro", "outro"]

C5, E5, G5, C6 = 523.25, 659.26, 783.99, 1046.50

# (frequency ratio, relative amplitude, decay speed relative to the fundamental)
PARTIALS: tuple[tuple[float, float, float], ...] = (
    (1.0, 1.0, 1.0),
    (2.0, 0.28, 1.8),  # a touch of octave gives the bell-like shimmer
    (3.93, 0.16, 3.2),  # the tuned-bar overtone of a marimba
    (9.2, 0.035, 6.0),  # the mallet "tock" that makes the strike audible on small horns
)
FUNDAMENTAL_DECAY_S = 0.45  # time constant of the fundamental
ATTACK_S = 0.004  # soft but definite: no click, still a strike
# Chimes sit this far below the speech, so they announce without startling.
CHIME_BELOW_SPEECH_LU = 2.0


@dataclass(frozen=True)
class Note:
    """One strike: pitch, when it starts, how long it rings, and how hard it is struck."""

    freq_hz: float
    start_s: float
    ring_s: float
    velocity: float = 1.0


INTRO_NOTES: tuple[Note, ...] = (
    Note(C5, 0.00, 0.9, 0.85),
    Note(E5, 0.22, 0.9, 0.85),
    Note(G5, 0.44, 0.9, 0.9),
    Note(C6, 0.66, 1.5, 1.0),
)
OUTRO_NOTES: tuple[Note, ...] = (
    Note(G5, 0.00, 1.0, 1.0),
    Note(E5, 0.30, 1.0, 0.9),
    Note(C5, 0.60, 1.8, 0.9),
)
NOTES: dict[ChimeKind, tuple[Note, ...]] = {"intro": INTRO_NOTES, "outro": OUTRO_NOTES}


def strike(note: Note, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The waveform of one struck note (float32), starting at its onset."""
    t = np.arange(int(round(note.ring_s * sample_rate)), dtype=np.float64) / sample_rate
    wave = np.zeros_like(t)
    for ratio, amplitude, decay_speed in PARTIALS:
        freq = note.freq_hz * ratio
        if freq >= 0.45 * sample_rate:
            continue  # above what this sample rate can carry: would alias
        wave += amplitude * np.exp(-t * decay_speed / FUNDAMENTAL_DECAY_S) * np.sin(2 * math.pi * freq * t)
    attack = np.minimum(t / ATTACK_S, 1.0)
    # Raised-cosine fade over the last 80 ms so the ring ends without a click.
    release_n = min(len(t), int(0.08 * sample_rate))
    release = np.ones_like(t)
    release[len(t) - release_n :] = 0.5 * (1 + np.cos(np.linspace(0, math.pi, release_n)))
    return (note.velocity * wave * attack * release).astype(np.float32)


@functools.lru_cache(maxsize=8)
def synthesize_chime(kind: ChimeKind, sample_rate: int = SAMPLE_RATE) -> Pcm:
    """The raw (unlevelled) chime ``kind``: its notes mixed at their onsets (cached; read-only)."""
    # Cached: a render levels the chimes again for each try of its peak margin, from the same notes.
    notes = NOTES[kind]
    total_s = max(note.start_s + note.ring_s for note in notes)
    mix = np.zeros(int(round(total_s * sample_rate)) + 1, dtype=np.float32)
    for note in notes:
        wave = strike(note, sample_rate)
        start = int(round(note.start_s * sample_rate))
        mix[start : start + len(wave)] += wave
    mix.setflags(write=False)  # shared between callers through the cache
    return Pcm(mix, sample_rate)


@functools.lru_cache(maxsize=16)
def chime(
    kind: ChimeKind,
    speech_lufs: float,
    true_peak_db: float = TRUE_PEAK_DB,
    sample_rate: int = SAMPLE_RATE,
) -> Pcm:
    """The chime ``kind`` levelled to sit just below speech at ``speech_lufs`` (cached; read-only)."""
    levelled = level(
        synthesize_chime(kind, sample_rate),
        speech_lufs - CHIME_BELOW_SPEECH_LU,
        true_peak_db,
        margin_db=CODEC_PEAK_MARGIN_DB,
    ).pcm
    levelled.samples.setflags(write=False)  # shared between callers through the cache
    return levelled
