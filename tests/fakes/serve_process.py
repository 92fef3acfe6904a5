"""A real ``broadcaster serve`` process on 127.0.0.1, for tests and benchmarks that need one."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from broadcaster.config import Settings
from tests.fakes.processes import killed_on_failure


def start_serve_process(settings: Settings, port: int, *, start_timeout_s: float = 60.0,
                        env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``broadcaster serve`` on ``port`` with these settings' directories and no scheduler, once /health answers.

    ``env``: more ``BROADCASTER_*`` variables for this server.
    """
    env = {**os.environ, "BROADCASTER_DATA_DIR": str(settings.data_dir),
           "BROADCASTER_CACHE_DIR": str(settings.cache_dir), "BROADCASTER_SCHEDULES_DIR": str(settings.schedules_dir),
           "BROADCASTER_DATABASE_URL": settings.effective_database_url, **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "broadcaster", "serve", "--port", str(port), "--no-scheduler",
                                "--log-level", "warning"], env=env)
    with killed_on_failure(process):
        deadline = time.monotonic() + start_timeout_s
        while time.monotonic() < deadline and process.poll() is None:  # it may die at once (port taken)
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    return process
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"broadcaster serve did not start on port {port} (exit status {process.poll()})")
