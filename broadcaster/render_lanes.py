"""Lanes for rendering, so that no officer's previews can delay an emergency or the server.

Rendering is the one thing a user can make the server do for minutes. Three lanes share the CPU:

- **emergency**: renders in the request's own thread at once, behind nothing (no queue, no pool);
- **sessions**: the scheduler's own worker threads (``scheduler_workers``), bounded there;
- **previews** ("Nghe thử"): ``PreviewLane`` below, a small pool of threads at a lower CPU priority
  (``nice``; the ffmpeg processes they start inherit it), at most ``per_user`` previews per person
  running or waiting and at most ``workers + queue`` in all. Beyond that a preview is refused at
  once (429 for one person's excess, 503 when everyone's queue is full), with ``Retry-After``:
  a waiting request holds a web server thread, so the queue itself must stay short.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from broadcaster.config import Settings
from broadcaster.errors import BroadcasterError, ServiceFailure

T = TypeVar("T")
log = logging.getLogger(__name__)
PREVIEW_NICE = 10  # how much nicer than the server preview threads run: they get the CPU only when others leave it


class PreviewLimitReached(BroadcasterError):
    """This person already has as many previews running or waiting as one may."""

    code = "preview_limit_reached"
    status = 429

    def __init__(self, message: str, *, retry_after_s: int, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after_s = retry_after_s


class RenderBusy(ServiceFailure):
    """Every preview slot, running and waiting, is taken; try again shortly."""

    code = "render_busy"

    def __init__(self, message: str, *, retry_after_s: int, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after_s = retry_after_s


def lower_thread_priority(nice: int) -> None:
    """Make the calling thread (and the processes it starts) ``nice`` steps nicer, at most 19; best effort."""
    try:
        thread = threading.get_native_id()
        # relative to where the server already runs: an absolute value would raise a niced server's previews
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + nice))
    except (OSError, AttributeError) as error:  # not Linux, or not permitted: the bounds still hold
        log.warning("render lanes: could not lower a preview thread's priority: %s", error)


class PreviewLane:
    """Bounded, low-priority rendering of previews: per person and in total."""

    def __init__(self, workers: int = 1, per_user: int = 2, queue: int = 8, *, nice: int = PREVIEW_NICE) -> None:
        if workers < 1 or per_user < 1 or queue < 0:
            raise ValueError("workers and per_user must be >= 1, queue >= 0")
        self.workers = workers
        self.per_user = per_user
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="preview",
                                            initializer=lower_thread_priority, initargs=(nice,))
        self._lock = threading.Lock()
        self._by_user: Counter[str] = Counter()
        self._admitted = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> PreviewLane:
        """The lane sized by ``preview_workers``, ``preview_per_user`` and ``preview_queue``."""
        return cls(settings.preview_workers, settings.preview_per_user, settings.preview_queue)

    @property
    def admitted(self) -> int:
        """Previews running or waiting now."""
        with self._lock:
            return self._admitted

    def run(self, user_key: str, render: Callable[[], T]) -> T:
        """Render in the lane and return the result; refused at once if the person or the lane is full."""
        self._admit(user_key)
        try:
            return self._executor.submit(render).result()
        finally:
            self._release(user_key)

    def _admit(self, user_key: str) -> None:
        with self._lock:
            if self._by_user[user_key] >= self.per_user:
                raise PreviewLimitReached(
                    f"Anh/chị đang có {self.per_user} bản nghe thử đang được tạo; chờ xong rồi nghe thử tiếp.",
                    retry_after_s=5, detail=f"user {user_key} at {self.per_user} previews",
                )
            if self._admitted >= self.capacity:
                raise RenderBusy(
                    "Máy chủ đang tạo nhiều bản nghe thử; vui lòng thử lại sau ít giây.",
                    retry_after_s=10, detail=f"preview lane full ({self.capacity})",
                )
            self._by_user[user_key] += 1
            self._admitted += 1

    def _release(self, user_key: str) -> None:
        with self._lock:
            self._by_user[user_key] -= 1
            if self._by_user[user_key] <= 0:
                del self._by_user[user_key]
            self._admitted -= 1

    def close(self) -> None:
        """Stop the worker threads (waiting for the renders in progress)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
