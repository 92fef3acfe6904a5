"""Real ``broadcaster serve`` processes for the restart and lease tests.

Each server gets its settings from BROADCASTER_* variables and a recording hand-off that appends
what it receives to a JSON-lines file (``handoff=record:<file>``), which the test reads across
processes. The machine's zone is set to New York on purpose: the service must not care.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from broadcaster.config import Settings
from broadcaster.scheduler import Lease
from tests.fakes.processes import killed_on_failure
from tests.scheduler.support import wait_until

STARTUP_TIMEOUT_S = 120.0  # a loaded 2-core machine can take a minute to start a server


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_env(settings: Settings, **extra: Any) -> dict[str, str]:
    """``settings`` (and ``extra`` fields) as BROADCASTER_* environment variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")}
    values = {**settings.model_dump(exclude_unset=True), **extra}
    for name, value in values.items():
        env[f"BROADCASTER_{name.upper()}"] = str(value)
    env["TZ"] = "America/New_York"
    return env


class Server:
    """One ``python -m broadcaster serve`` process with its own port, log and hand-off file."""

    def __init__(self, settings: Settings, directory: Path, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = directory / f"{name}.log"
        self.handoff_path = directory / f"{name}-handoff.jsonl"
        self.env = settings_env(settings, handoff=f"record:{self.handoff_path}")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> Server:
        """Start the process and wait until /health answers; killed if it does not."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "broadcaster", "serve", "--port", str(self.port), "--log-level", "info"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        with killed_on_failure(self.process):
            wait_until(self._healthy, timeout, what=f"{self.name} to answer /health")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, the lease is not released."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait (a clean shutdown); kill if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        """Everything the server logged."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def lease_holder_pid(lease: Lease) -> int | None:
    """The pid in the stored lease's holder id (host:pid:suffix), if the lease is held and not expired."""
    from broadcaster.db import utc_now

    state = lease.state()
    if state is None or state.expires_at <= utc_now():
        return None
    return int(state.holder.split(":")[1])
