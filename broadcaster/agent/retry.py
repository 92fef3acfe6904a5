"""Exponential backoff for links that drop (3G/4G): downloads and reports retry on this schedule."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays ``initial_s``, ×``factor`` each time, capped at ``maximum_s``, with ±``jitter`` spread."""

    initial_s: float = 1.0
    maximum_s: float = 60.0
    factor: float = 2.0
    # Spread so that many clusters coming back after an outage do not all call at the same instant.
    jitter: float = 0.2

    def delays(self) -> Iterator[float]:
        """An endless series of delays in seconds."""
        delay = self.initial_s
        while True:
            yield delay * random.uniform(1 - self.jitter, 1 + self.jitter)
            delay = min(delay * self.factor, self.maximum_s)
