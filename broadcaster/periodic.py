"""A periodic background task: one daemon thread calling a function every ``interval_s`` until closed.

Used where work is batched or checked now and then, away from any request: the agents' links
written in batches (``services/link_states.py``), the served audio hashed again
(``services/audio_files.py``). The first call comes one interval after ``start``; ``close`` stops
the waiting at once and lets a call under way finish.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

JOIN_S = 10.0  # a call under way gets this long to finish at close; the thread is a daemon either way


class Periodic:
    """Calls ``work`` every ``interval_s`` seconds in a daemon thread named ``name``, from ``start`` to ``close``.

    ``work`` handles its own errors: one that escapes ends the thread.
    """

    def __init__(self, work: Callable[[], object], interval_s: float, *, name: str) -> None:
        self._work = work
        self._interval_s = interval_s
        self._name = name
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once: a second start while it runs does nothing)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and wait for a call under way."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_S)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            self._work()
