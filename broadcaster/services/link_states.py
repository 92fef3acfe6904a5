"""Agents' links as the transports see them (connected, gone), written to the registry in batches.

Presence comes one message per box. After a broker restart, or when a province's boxes come back
after a power cut, thousands of boxes connect within seconds: one transaction (and fsync) per
message fell behind the broker, whose queue for the server then overflowed and dropped the rest
(10,000 boxes connected, the server saw 4,134). So changes are collected and written together
every ``FLUSH_S``, the newest per cluster winning. Waking a cluster's lane does not wait for this:
``DeliveryService.link_changed`` does it at once.

A batch the database refuses (busy, full) is kept and tried again with the next one; a change
noted meanwhile for the same cluster replaces it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from broadcaster.periodic import Periodic

log = logging.getLogger(__name__)
FLUSH_S = 0.5


@dataclass(frozen=True)
class LinkChange:
    """A cluster's link as last seen: connected or not, since when."""

    connected: bool
    at: datetime


LinkStore = Callable[[dict[int, LinkChange]], None]


class LinkRecorder:
    """Collects link changes and hands them to ``store`` in one call every ``interval_s`` (in its own thread)."""

    def __init__(self, store: LinkStore, *, interval_s: float = FLUSH_S) -> None:
        self._store = store
        self._pending: dict[int, LinkChange] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one batch at a time: an older batch never lands after a newer one
        self._writer = Periodic(self.flush, interval_s, name="delivery-links")

    def note(self, cluster_id: int, connected: bool, at: datetime) -> None:
        """Remember the change; it is written with the next batch (called from the transports' loop)."""
        with self._lock:
            self._pending[cluster_id] = LinkChange(connected, at)

    @property
    def pending(self) -> int:
        """How many clusters wait to be written."""
        with self._lock:
            return len(self._pending)

    def flush(self) -> int:
        """Write what is pending now, in one call to ``store``; how many clusters it held (0 if it failed)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return 0
            try:
                self._store(batch)
            except Exception:  # noqa: BLE001 - presence is informative: delivery goes on, the batch waits
                log.exception("could not record the links of %d cluster(s); trying again", len(batch))
                with self._lock:
                    self._pending = batch | self._pending  # a newer change for a cluster wins
                return 0
            return len(batch)

    def start(self) -> None:
        """Write batches in a background thread until ``close``."""
        self._writer.start()

    def close(self) -> None:
        """Stop the thread, writing what is still pending."""
        self._writer.close()
        self.flush()
