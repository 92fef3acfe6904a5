"""PCM: the one in-memory audio type inside the pipeline (mono float32); encoded once at the end."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# espeak-ng speaks at 22.05 kHz; loudspeaker horns reproduce nothing above ~8 kHz, so this
# rate loses nothing audible and saves a resampling step for the offline engine.
SAMPLE_RATE = 22050


@dataclass(frozen=True)
class Pcm:
    """Mono float32 samples in [-1, 1] at ``sample_rate``."""

    samples: npt.NDArray[np.float32]
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    @classmethod
    def silence(cls, seconds: float, sample_rate: int = SAMPLE_RATE) -> Pcm:
        """A stretch of digital silence."""
        return cls(np.zeros(int(round(seconds * sample_rate)), dtype=np.float32), sample_rate)

    @classmethod
    def from_int16(cls, raw: bytes, sample_rate: int = SAMPLE_RATE) -> Pcm:
        """From little-endian signed 16-bit mono bytes."""
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        return cls(samples, sample_rate)

    def to_int16(self) -> bytes:
        """To little-endian signed 16-bit mono bytes (clipped)."""
        clipped = np.clip(self.samples, -1.0, 32767 / 32768)
        return (clipped * 32768.0).astype("<i2").tobytes()

    def concat(self, *others: Pcm) -> Pcm:
        """This audio followed by the others (all at the same rate)."""
        for other in others:
            if other.sample_rate != self.sample_rate:
                raise ValueError("cannot join PCM of different sample rates")
        return Pcm(np.concatenate([self.samples, *(o.samples for o in others)]), self.sample_rate)
