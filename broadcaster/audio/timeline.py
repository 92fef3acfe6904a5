"""Arranging audio in time: clean edges, pauses between sentences, repeats with a gap.

Engines pad their output with silence of their own choosing; trimming it first makes the
configured pauses the pauses people actually hear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from math import gcd

import numpy as np

from broadcaster.audio.pcm import SAMPLE_RATE, Pcm

EDGE_FADE_S = 0.005  # removes clicks where a cut lands mid-waveform
_FRAME_S = 0.01
# Edge frames quieter than the piece's loudest frame by this much count as silence...
_TRIM_RELATIVE_DB = 45.0
# ...and so does anything under this absolute floor, whatever the piece.
_TRIM_FLOOR_DBFS = -65.0
_TRIM_KEEP_S = 0.03  # a breath of the original edge, so consonants are never clipped


def pause(seconds: float, sample_rate: int = SAMPLE_RATE) -> Pcm:
    """Digital silence of the given length."""
    return Pcm.silence(max(0.0, seconds), sample_rate)


def conform(pcm: Pcm, sample_rate: int = SAMPLE_RATE) -> Pcm:
    """``pcm`` as finite float32 at ``sample_rate`` (resampled if needed; NaN and inf become 0)."""
    samples = np.nan_to_num(np.asarray(pcm.samples, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if pcm.sample_rate != sample_rate and len(samples):
        from scipy.signal import resample_poly  # imported here: scipy.signal takes ~0.7 s to import

        divisor = gcd(sample_rate, pcm.sample_rate)
        samples = resample_poly(samples, sample_rate // divisor, pcm.sample_rate // divisor)
    return Pcm(samples.astype(np.float32), sample_rate)


def trim_silence(pcm: Pcm) -> Pcm:
    """``pcm`` without the near-silence at its start and end (a few ms of edge kept)."""
    frame = max(1, int(_FRAME_S * pcm.sample_rate))
    count = len(pcm.samples) // frame
    if count == 0:
        return pcm
    frames = pcm.samples[: count * frame].reshape(count, frame).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loudest = float(rms.max())
    if loudest <= 0:
        return Pcm(pcm.samples[:0], pcm.sample_rate)
    threshold = max(loudest * 10 ** (-_TRIM_RELATIVE_DB / 20), 10 ** (_TRIM_FLOOR_DBFS / 20))
    voiced = np.flatnonzero(rms > threshold)
    if len(voiced) == 0:
        return Pcm(pcm.samples[:0], pcm.sample_rate)
    keep = int(_TRIM_KEEP_S * pcm.sample_rate)
    start = max(0, voiced[0] * frame - keep)
    end = min(len(pcm.samples), (voiced[-1] + 1) * frame + keep)
    return Pcm(pcm.samples[start:end], pcm.sample_rate)


def fade_edges(pcm: Pcm, fade_s: float = EDGE_FADE_S) -> Pcm:
    """``pcm`` with short raised-cosine fades in and out."""
    samples = pcm.samples.astype(np.float32, copy=True)
    n = min(int(fade_s * pcm.sample_rate), len(samples) // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, n))).astype(np.float32)
        samples[:n] *= ramp
        samples[-n:] *= ramp[::-1]
    return Pcm(samples, pcm.sample_rate)


def join_with_pauses(pieces: Sequence[Pcm], pause_s: float) -> Pcm:
    """The pieces one after another, ``pause_s`` of silence between neighbours."""
    if not pieces:
        return Pcm.silence(0.0)
    rate = pieces[0].sample_rate
    gap = pause(pause_s, rate)
    parts: list[Pcm] = []
    for index, piece in enumerate(pieces):
        if index:
            parts.append(gap)
        parts.append(piece)
    return parts[0].concat(*parts[1:])


def repeat_with_gap(pcm: Pcm, times: int, gap_s: float) -> Pcm:
    """``pcm`` played ``times`` times with ``gap_s`` of silence between the plays."""
    return join_with_pauses([pcm] * max(1, times), gap_s)
