"""Test harness for the agent: a stand-in server, an order signer, and real agent processes.

``FakeServer`` is a real HTTP server on 127.0.0.1 playing the broadcaster server's part: it
serves audio (with Range, optionally slowly), checks the HMAC of the agents' reports and
heartbeats and records them. ``AgentProcess`` runs ``.venv/bin/broadcaster agent`` as a
subprocess with the null player.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.audio.codec import encode_audio
from broadcaster.audio.pcm import SAMPLE_RATE, Pcm
from broadcaster.delivery.agent_auth import agent_signing_key, request_cluster, verify_agent_request
from broadcaster.delivery.keys import public_key_base64
from broadcaster.delivery.orders import LOCAL_ZONE, OrderSigner, PlayOrder
from tests.fakes.processes import killed_on_failure

BROADCASTER = Path(sys.executable).parent / "broadcaster"
SECRET = "test-cluster-secret-0123456789"  # every test cluster's report secret


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def tone_mp3(seconds: float, frequency: float = 440.0) -> bytes:
    """A short sine tone as MP3 (real ffmpeg)."""
    t = np.arange(int(seconds * SAMPLE_RATE), dtype=np.float32) / SAMPLE_RATE
    return encode_audio(Pcm((0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)))


@dataclass(frozen=True)
class Audio:
    """A file the fake server serves."""

    url: str
    sha256: str
    size: int


@dataclass
class Served:
    """One audio GET the fake server saw."""

    path: str
    range: str | None


class FakeServer:
    """The broadcaster server as the agents see it: audio files, report and heartbeat endpoints."""

    def __init__(self, secrets: dict[str, str], port: int = 0) -> None:
        self.secrets = secrets
        self.port = port
        self._files: dict[str, tuple[bytes, float | None]] = {}
        self._lock = threading.Condition()
        self.reports: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.audio_requests: list[Served] = []
        self.auth_failures = 0
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        """Listen (again, on the same port if it had one)."""
        self._httpd = _QuietHTTPServer(("127.0.0.1", self.port), _make_handler(self))
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: the agents find nobody there."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def add_audio(self, name: str, data: bytes, *, bytes_per_s: float | None = None) -> Audio:
        """Serve ``data`` at /audio/<name>, throttled to ``bytes_per_s`` if given."""
        self._files[name] = (data, bytes_per_s)
        return Audio(f"{self.url}/audio/{name}", hashlib.sha256(data).hexdigest(), len(data))

    def record(self, kind: str, items: list[dict[str, Any]]) -> None:
        """Store what an agent sent (called by the handler)."""
        with self._lock:
            (self.reports if kind == "reports" else self.heartbeats).extend(items)
            self._lock.notify_all()

    def stages(self, order_id: uuid.UUID | str) -> list[str]:
        """The report stages received for one order, in arrival order."""
        with self._lock:
            return [r["stage"] for r in self.reports if r["order_id"] == str(order_id)]

    def report(self, order_id: uuid.UUID | str, stage: str) -> dict[str, Any] | None:
        """The first report of ``stage`` for an order."""
        with self._lock:
            return next((r for r in self.reports if r["order_id"] == str(order_id) and r["stage"] == stage), None)

    def wait_report(self, order_id: uuid.UUID | str, stage: str, timeout: float = 15.0) -> dict[str, Any]:
        """Wait until the report of ``stage`` for an order has arrived."""
        return wait_for(lambda: self.report(order_id, stage), timeout, f"report {stage} of {order_id}")

    def file(self, name: str) -> tuple[bytes, float | None] | None:
        """What is served under a name."""
        return self._files.get(name)


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A killed agent resets its keep-alive connections: expected here, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _make_handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            name = self.path.removeprefix("/audio/")
            entry = server.file(name) if self.path.startswith("/audio/") else None
            with server._lock:
                server.audio_requests.append(Served(self.path, self.headers.get("Range")))
            if entry is None:
                return self._reply(404, b"not found")
            data, rate = entry
            start = 0
            range_header = self.headers.get("Range")
            if range_header and range_header.startswith("bytes="):
                start = int(range_header[6:].split("-", 1)[0])
                if start >= len(data):
                    return self._reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            chunk = 1024 if rate else 64 * 1024
            try:
                for offset in range(start, len(data), chunk):
                    self.wfile.write(data[offset : offset + chunk])
                    self.wfile.flush()
                    if rate:
                        time.sleep(chunk / rate)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                cluster = request_cluster(self.headers)  # type: ignore[arg-type]
                key = agent_signing_key(server.secrets[cluster]).public_key()
                purpose = self.path.rsplit("/", 1)[-1]
                verify_agent_request(key, purpose, body, self.headers, now=time.time())  # type: ignore[arg-type]
            except Exception:
                with server._lock:
                    server.auth_failures += 1
                return self._reply(401, b'{"code":"agent_unauthenticated"}')
            payload = json.loads(body)
            if self.path == "/api/agent/reports":
                server.record("reports", payload)
            elif self.path == "/api/agent/heartbeat":
                server.record("heartbeats", [payload])
            else:
                return self._reply(404, b"{}")
            self._reply(200, b'{"ok":true}')

        def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class OrderMaker:
    """Signs orders with a test key, numbering seq per cluster."""

    def __init__(self) -> None:
        self.private_key = Ed25519PrivateKey.generate()
        self.signer = OrderSigner(self.private_key)
        self.public_key = public_key_base64(self.signer.public_key)
        self._seqs: dict[str, Iterator[int]] = {}

    def order(self, cluster_id: str, audio: Audio | None, *, play_in: float = 2.0, expires_in: float = 30.0,
              **fields: Any) -> PlayOrder:
        """A play order (or a stop order when ``kind="stop"`` and no audio)."""
        now = datetime.now(LOCAL_ZONE)
        seq = fields.pop("seq", None) or next(self._seqs.setdefault(cluster_id, itertools.count(1)))
        values: dict[str, Any] = {
            "order_id": uuid.uuid4(), "seq": seq, "cluster_id": cluster_id, "airing_id": f"airing-{uuid.uuid4().hex[:8]}",
            "play_at": now + timedelta(seconds=play_in), "expires_at": now + timedelta(seconds=play_in + expires_in),
            "issued_at": now, "key_id": self.signer.key_id,
        }
        if audio is not None:
            values |= {"audio_url": audio.url, "audio_sha256": audio.sha256, "audio_size": audio.size}
        return PlayOrder(**(values | fields))

    def envelope(self, order: PlayOrder) -> bytes:
        """The signed envelope as sent on the wire."""
        return json.dumps(self.signer.sign(order)).encode("utf-8")


class AgentProcess:
    """One ``broadcaster agent`` subprocess with the null player and its own state dir."""

    def __init__(self, root: Path, *, cluster_id: str, server_url: str, public_key: str, secret: str,
                 port: int = 0, clock_skew_s: float = 0.0, **settings: Any) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.cluster_id = cluster_id
        self.state_dir = root / "state"
        self.null_log = root / "played.jsonl"
        self.log_path = root / "agent.log"
        self.config_path = root / "agent.yaml"
        config = {
            "cluster_id": cluster_id, "server_url": server_url, "server_public_keys": [public_key],
            "secret": secret, "transport": "http", "host": "127.0.0.1", "port": port,
            "state_dir": str(self.state_dir),
            "player": "null", "player_options": {"log": str(self.null_log)}, "heartbeat_interval_s": 0.5,
            "retry_initial_s": 0.2, "retry_max_s": 1.0, "request_timeout_s": 5.0,
            "prepare_lead_s": 1.0, "start_lead_s": 0.4,
        } | settings
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None
        self.port = port
        # A box whose clock is off (the agent's injectable clock: everything it times, it reads there).
        self.clock_skew_s = clock_skew_s
        if clock_skew_s:
            config["clock_skew_s"] = clock_skew_s
            self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def launch(self, env: dict[str, str] | None = None) -> None:
        """Start the process without waiting for it (``env``: extra variables, e.g. a crash point)."""
        (self.state_dir / "agent.json").unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BROADCASTER), "agent", "--config", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT,
                env={**self.env, **(env or {})},
            )

    def wait_ready(self, timeout: float = 30.0) -> AgentProcess:
        """Wait until it listens (its agent.json names its pid); killed if it does not."""
        ready = self.state_dir / "agent.json"

        def listening() -> dict[str, Any] | None:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                info = json.loads(ready.read_text())
            except (OSError, ValueError):
                return None
            return info if info.get("pid") == self.process.pid else None

        assert self.process is not None
        with killed_on_failure(self.process):
            self.port = wait_for(listening, timeout, "the agent to start").get("port", 0)
        return self

    def start(self, env: dict[str, str] | None = None) -> AgentProcess:
        """Start and wait until it listens."""
        self.launch(env)
        return self.wait_ready()

    @property
    def url(self) -> str:
        """Base URL of its HTTP endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def post(self, envelope: bytes) -> httpx.Response:
        """POST /orders."""
        return httpx.post(f"{self.url}/orders", content=envelope, headers={"Content-Type": "application/json"},
                          timeout=10)

    def status(self) -> dict[str, Any]:
        """GET /status (http agents), or the status file every agent keeps fresh at each heartbeat."""
        if self.port:
            return dict(httpx.get(f"{self.url}/status", timeout=10).json())
        try:
            return dict(json.loads((self.state_dir / "status.json").read_text()))
        except (OSError, ValueError):
            return {}

    def terminate(self) -> int:
        """SIGTERM and wait: the clean shutdown."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)

    def kill(self) -> None:
        """SIGKILL: the power cut."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.poll() is None

    def played(self) -> list[dict[str, Any]]:
        """What the null player logged (start and end events)."""
        if not self.null_log.exists():
            return []
        return [json.loads(line) for line in self.null_log.read_text().splitlines() if line.strip()]

    def true_starts(self, order_id: str) -> list[float]:
        """When the null player started ``order_id``, on the real clock (its log is in the box's own time)."""
        return [float(e["at"]) - self.clock_skew_s for e in self.played()
                if e["event"] == "start" and e["label"] == order_id]

    def starts(self, order: PlayOrder) -> list[dict[str, Any]]:
        """The null player's start events for one order."""
        return [e for e in self.played() if e["event"] == "start" and e["label"] == str(order.order_id)]

    def log_text(self) -> str:
        """The agent's log so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


AgentFactory = Callable[..., AgentProcess]
