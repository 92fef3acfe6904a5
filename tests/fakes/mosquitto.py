"""A real Mosquitto broker for tests: started on a free loopback port, in a temp dir, with passwords and an ACL."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.fakes.processes import killed_on_failure

MOSQUITTO = Path("/usr/sbin/mosquitto")


class Mosquitto:
    """``/usr/sbin/mosquitto`` with its own config, password file and ACL (written by the caller)."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.passwd = root / "passwd"
        self.acl = root / "acl"
        self.log_path = root / "mosquitto.log"
        (root / "data").mkdir(parents=True, exist_ok=True)
        self.config = root / "mosquitto.conf"
        self.config.write_text(
            f"listener {port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {self.passwd}\n"
            f"acl_file {self.acl}\n"
            "persistence true\n"
            f"persistence_location {root / 'data'}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 1000\n"
            "user root\n"  # the tests run as root; a system broker runs as its own user
            f"log_dest file {self.log_path}\n", encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:<port>``."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> Mosquitto:
        """Start, and wait until the port accepts connections."""
        self.process = subprocess.Popen([str(MOSQUITTO), "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        with killed_on_failure(self.process):
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"mosquitto exited:\n{self.log()}")
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return self
                except OSError:
                    time.sleep(0.05)
            raise AssertionError("mosquitto did not start")

    def kill(self) -> None:
        """SIGKILL: the broker dies without saving."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def log(self) -> str:
        """The broker's log so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
