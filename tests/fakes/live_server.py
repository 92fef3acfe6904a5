"""A real uvicorn serving an app on 127.0.0.1 in a background thread, for tests that speak real HTTP."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a background thread (lifespan on); port 0 lets the OS choose."""

    def __init__(
        self, app: Any, *, port: int = 0, start_timeout_s: float = 30, thread_name: str = "uvicorn-test"
    ) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name=thread_name, daemon=True)
        self.timeout_s = start_timeout_s

    @property
    def url(self) -> str:
        """The base URL."""
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + self.timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=self.timeout_s)
