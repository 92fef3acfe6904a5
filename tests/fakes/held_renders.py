"""Preview renders that hold their lane slot until released: a full lane, deterministically."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from broadcaster.render_lanes import PreviewLane


class Held:
    """Renders that block until released, started from caller threads like concurrent requests."""

    def __init__(self, lane: PreviewLane) -> None:
        self.lane = lane
        self.release = threading.Event()
        self.callers = ThreadPoolExecutor(32)

    def start(self, user: str) -> Future[str]:
        before = self.lane.admitted
        future = self.callers.submit(self.lane.run, user, lambda: self.release.wait(60) and user)
        while self.lane.admitted == before and not future.done():  # admitted (or refused) before returning
            threading.Event().wait(0.001)
        return future

    def close(self) -> None:
        self.release.set()
        self.callers.shutdown(wait=True)
