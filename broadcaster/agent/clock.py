"""The server's time as this box estimates it: its own clock corrected by an NTP-style offset.

Cheap boxes lose their clock in power cuts and carrier APNs often block NTP, so the agent never
trusts its own clock for *when*: every exchange with the server (poll, heartbeat, report) is a
sample. With t0/t3 the agent's send and receive instants and t1/t2 the server's (response
headers), as in NTP (RFC 5905)::

    offset = ((t1 - t0) + (t2 - t3)) / 2        delay = (t3 - t0) - (t2 - t1)

The estimate is the offset of the sample with the smallest delay among the last few (NTP's clock
filter: the least-delayed sample is the least distorted by asymmetric queueing). Orders' times
(play_at, expires_at) are server time; the agent converts them to its own clock with ``to_local``
right before it waits, and converts what it measured back with ``to_server``.

Until the first sample, the offset saved by the last run is used (a box whose clock did not jump
keeps its estimate across a restart), and each signed order's ``issued_at`` bounds server time
from below: a box whose clock fell behind since cannot think an order expired before it was issued.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from broadcaster.delivery.orders import LOCAL_ZONE, ClockEstimate

SAMPLES_KEPT = 8
# A sample that took longer than this round trip says little about the offset (a long-poll's
# wait is not part of the delay: the server reports when it received and when it answered).
MAX_USEFUL_DELAY_S = 10.0


@dataclass(frozen=True)
class ClockSample:
    """One exchange: offset and round-trip delay in seconds."""

    offset_s: float
    delay_s: float


class ServerClock:
    """Thread-safe estimate of server time (the player's thread reads it too)."""

    def __init__(self, initial_offset_s: float = 0.0, *, local: Callable[[], float] = time.time) -> None:
        self._local = local
        self._offset_s = initial_offset_s
        self._samples: deque[ClockSample] = deque(maxlen=SAMPLES_KEPT)
        self._count = 0
        self._lock = threading.Lock()

    @property
    def offset_s(self) -> float:
        """Server time minus this box's clock, in seconds."""
        with self._lock:
            return self._offset_s

    @property
    def synced(self) -> bool:
        """Whether at least one exchange with the server was measured."""
        with self._lock:
            return self._count > 0

    def local_now(self) -> float:
        """This box's own clock (Unix seconds)."""
        return self._local()

    def now(self) -> float:
        """Server time now, as estimated (Unix seconds)."""
        return self._local() + self.offset_s

    def now_datetime(self) -> datetime:
        """Server time now as an aware datetime."""
        return datetime.fromtimestamp(self.now(), LOCAL_ZONE)

    def to_local(self, server_unix: float) -> float:
        """The instant of this box's clock that corresponds to a server time."""
        return server_unix - self.offset_s

    def to_server(self, local_unix: float) -> float:
        """The server time that corresponds to an instant of this box's clock."""
        return local_unix + self.offset_s

    def add_exchange(self, t0: float, t1: float, t2: float, t3: float) -> ClockSample | None:
        """Record one request (sent at local t0, answered at local t3; server received t1, sent t2)."""
        delay = (t3 - t0) - (t2 - t1)
        if delay < 0 or delay > MAX_USEFUL_DELAY_S:
            return None
        sample = ClockSample(((t1 - t0) + (t2 - t3)) / 2, delay)
        with self._lock:
            self._samples.append(sample)
            self._count += 1
            self._offset_s = min(self._samples, key=lambda s: s.delay_s).offset_s
        return sample

    def at_least(self, server_unix: float) -> None:
        """Server time is known to be at least ``server_unix`` (an order's issued_at); before any sample only."""
        with self._lock:
            if self._count == 0 and self._local() + self._offset_s < server_unix:
                self._offset_s = server_unix - self._local()

    def estimate(self) -> ClockEstimate | None:
        """What heartbeats report: the offset and the delay of the sample it came from."""
        with self._lock:
            if not self._samples:
                return None
            best = min(self._samples, key=lambda s: s.delay_s)
            return ClockEstimate(offset_ms=self._offset_s * 1000, rtt_ms=best.delay_s * 1000, samples=self._count)
