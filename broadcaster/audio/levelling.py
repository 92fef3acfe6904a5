"""Loudness levelling: gain to the target integrated loudness, with a true-peak limiter under it.

Steps: a phase rotator takes the lopsided peaks off voiced speech (inaudible, ~2 dB less
peak); the loudness is measured once (BS.1770, ``gated_power``); then the gain is searched so
that gain plus limiter land on the target. Limiting lowers loudness, and how much is *predicted* from the
one measurement (the gated K-weighted power, ``GatedPower``) instead of measured again: a search
step costs ~2 ms per minute of audio instead of ~60 ms. The prediction typically matches pyloudnorm
on the result to 0.01 LU (the tests allow 0.1), and the encoded file is measured by ffmpeg anyway.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from broadcaster.audio.limiter import limiter_gain, phase_rotate, true_peak_envelope
from broadcaster.audio.loudness import gated_power
from broadcaster.audio.pcm import Pcm

TARGET_LUFS = -16.0
TRUE_PEAK_DB = -1.5
# Headroom between our limiter's ceiling and the promised true peak: MP3 encoding adds
# quantization noise that raises peaks (measured up to ~0.6 dB on noise at 64 kb/s).
CODEC_PEAK_MARGIN_DB = 1.0
# Near-silent input would otherwise be raised into a roar of hiss.
MAX_GAIN_DB = 30.0
# At most this much limiting (gain above the point where the highest peak meets the ceiling).
# Raw espeak-ng speech needs ~8 dB to reach -16 LUFS at -2.5 dBTP; past ~12 dB speech turns
# harsh, and being a little quiet is better than being distorted.
MAX_LIMITING_DB = 12.0
_TOLERANCE_LU = 0.05
_MAX_STEPS = 8


@dataclass(frozen=True)
class Levelled:
    """Levelled PCM and what was done to it."""

    pcm: Pcm
    gain_db: float  # the gain applied before the limiter
    integrated_lufs: float  # predicted loudness after levelling; -inf if silent
    limiting_db: float  # the deepest gain reduction of the limiter (0: untouched)


def level(
    pcm: Pcm,
    target_lufs: float = TARGET_LUFS,
    true_peak_db: float = TRUE_PEAK_DB,
    *,
    margin_db: float = CODEC_PEAK_MARGIN_DB,
    max_gain_db: float = MAX_GAIN_DB,
) -> Levelled:
    """Bring ``pcm`` to ``target_lufs`` with its true peak at or below ``true_peak_db - margin_db``."""
    rate = pcm.sample_rate
    samples = np.nan_to_num(pcm.samples.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    samples = phase_rotate(samples, rate)
    ceiling = _ratio(true_peak_db - margin_db)
    # The peak envelope and the loudness are independent, and scipy's FFTs and filters release the
    # GIL: measured side by side, on the core the encoder (still waiting for input) leaves free.
    with ThreadPoolExecutor(max_workers=1) as pool:
        envelope_job = pool.submit(true_peak_envelope, samples)
        power = gated_power(Pcm(samples, rate))
        envelope = envelope_job.result()
    if not math.isfinite(power.integrated_lufs):
        # Silence, or below the absolute gate: no loudness to aim from; only keep peaks legal.
        curve = limiter_gain(envelope, ceiling, rate)
        return Levelled(Pcm(samples * curve, rate), 0.0, power.integrated_lufs, _depth_db(curve))

    peak = float(np.max(envelope))
    highest_gain = min(max_gain_db, 20.0 * math.log10(ceiling / peak) + MAX_LIMITING_DB)
    predictor = _Predictor(envelope, power.weighted_power, ceiling, rate)

    gain_db = min(target_lufs - power.integrated_lufs, highest_gain)
    loudness = power.integrated_lufs + gain_db + predictor.change_db(gain_db)
    previous: tuple[float, float] | None = None
    for _ in range(_MAX_STEPS):
        error = target_lufs - loudness
        if abs(error) <= _TOLERANCE_LU or (error > 0 and gain_db >= highest_gain):
            break
        slope = 1.0
        if previous is not None and gain_db != previous[0]:
            slope = (loudness - previous[1]) / (gain_db - previous[0])
        # Under a limiter loudness grows slower than the gain (secant slope below 1); a slope
        # under 0.1 would mean a wild step, so it is not trusted.
        slope = min(max(slope, 0.1), 1.0)
        previous = (gain_db, loudness)
        gain_db = min(gain_db + error / slope, highest_gain)
        loudness = power.integrated_lufs + gain_db + predictor.change_db(gain_db)
    gain = np.float32(_ratio(gain_db))
    curve = limiter_gain(envelope * gain, ceiling, rate)
    levelled = Pcm((samples * gain * curve).astype(np.float32), rate)
    reached = power.integrated_lufs + gain_db + power.change_db(curve)
    return Levelled(levelled, gain_db, reached, _depth_db(curve))


class _Predictor:
    """The limiter's effect on loudness, worked out on 16-sample blocks: ~1 ms per guess.

    The block maximum of the envelope makes the coarse limiter slightly more cautious than the
    real one; the final curve is computed at the full rate, once.
    """

    BLOCK = 16

    def __init__(
        self, envelope: npt.NDArray[np.float32], weighted_power: npt.NDArray[np.float64], ceiling: float, rate: int
    ) -> None:
        pad = (-len(envelope)) % self.BLOCK
        self.envelope = np.pad(envelope, (0, pad)).reshape(-1, self.BLOCK).max(axis=1)
        self.power = np.pad(weighted_power, (0, pad)).reshape(-1, self.BLOCK).sum(axis=1)
        self.total = float(np.sum(self.power))
        self.ceiling = ceiling
        self.rate = rate / self.BLOCK

    def change_db(self, gain_db: float) -> float:
        """Predicted loudness change (dB, <= 0) that limiting at ``gain_db`` causes."""
        curve = limiter_gain(self.envelope * np.float32(_ratio(gain_db)), self.ceiling, self.rate)
        after = float(np.dot(self.power, np.square(curve, dtype=np.float64)))
        return 10.0 * math.log10(after / self.total) if after > 0 and self.total > 0 else 0.0


def _ratio(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def _depth_db(curve: npt.NDArray[np.float32]) -> float:
    lowest = float(np.min(curve)) if len(curve) else 1.0
    return -20.0 * math.log10(lowest) if lowest > 0 else float("inf")
