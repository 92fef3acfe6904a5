"""A local stand-in for Google Translate's speech endpoint, speaking the batchexecute protocol gTTS uses.

A real HTTP server on 127.0.0.1 in a background thread. Each test scripts what it answers (success,
an HTTP status with an optional Retry-After, garbage, a hang past the client's timeout) and reads back
what it received: the text of every chunk, when it arrived, and the most requests it had in flight.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs

import numpy as np

from broadcaster.audio.codec import encode_audio
from broadcaster.audio.pcm import Pcm

RPC_ID = "jQ1olc"
PATH = "/_/TranslateWebserverUi/data/batchexecute"
SECONDS_PER_WORD = 0.3  # the stand-in "speaks" ~3.3 syllables per second, like a real voice


@dataclass(frozen=True)
class Reply:
    """What the stand-in does with one request."""

    status: int = 200
    body: bytes | None = None  # None: a proper batchexecute reply carrying MP3 for the text
    delay_s: float = 0.0  # wait before answering (cut short when the server stops)
    headers: dict[str, str] = field(default_factory=dict)


def ok(delay_s: float = 0.0) -> Reply:
    """Answer with speech for the text, optionally after a delay."""
    return Reply(delay_s=delay_s)


def error(status: int, retry_after: str | None = None) -> Reply:
    """Answer with an HTTP error, optionally with a Retry-After header."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=status, body=b"<html>error</html>", headers=headers)


def garbage(body: bytes = b"<html><body>Our systems have detected unusual traffic</body></html>") -> Reply:
    """Answer 200 with a body that is not a batchexecute reply."""
    return Reply(body=body)


def hang(seconds: float) -> Reply:
    """Say nothing for ``seconds`` (longer than the client's timeout), then answer normally."""
    return Reply(delay_s=seconds)


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the stand-in saw it."""

    text: str
    lang: str
    slow: bool
    path: str
    started: float  # time.monotonic()
    status: int  # the status the script chose for it


def batchexecute_reply(mp3: bytes) -> bytes:
    """The reply framing Google sends and gTTS reads: an XSSI guard, then length-prefixed JSON lines."""
    payload = json.dumps([base64.b64encode(mp3).decode("ascii")], separators=(",", ":"))
    envelope = json.dumps(
        [["wrb.fr", RPC_ID, payload, None, None, None, "generic"], ["di", 42], ["af.httprm", 41, "-1", 3]],
        separators=(",", ":"),
    )
    tail = json.dumps([["e", 4, None, None, len(envelope)]], separators=(",", ":"))
    return f")]}}'\n\n{len(envelope)}\n{envelope}\n{len(tail)}\n{tail}\n".encode()


def parse_request_body(body: bytes) -> tuple[str, str, bool]:
    """(text, lang, slow) out of a gTTS request body ``f.req=<quoted JSON>&``."""
    rpc = json.loads(parse_qs(body.decode("utf-8"))["f.req"][0])
    rpc_id, parameter = rpc[0][0][0], rpc[0][0][1]
    if rpc_id != RPC_ID:
        raise ValueError(f"unexpected RPC {rpc_id!r}")
    text, lang, speed, _ = json.loads(parameter)
    return text, lang, bool(speed)


@functools.lru_cache(maxsize=64)
def tone_mp3(seconds: float, frequency: float = 440.0) -> bytes:
    """A real MP3 (made by ffmpeg) of a sine tone."""
    t = np.arange(int(seconds * 22050)) / 22050
    return encode_audio(Pcm((0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)))


def speech_like_mp3(text: str) -> bytes:
    """A tone as long as the text would take to say, so durations stay plausible."""
    return tone_mp3(round(SECONDS_PER_WORD * max(1, len(text.split())), 2))


class FakeGttsServer:
    """The stand-in server; use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, mp3_for_text: Callable[[str], bytes] = speech_like_mp3) -> None:
        self.mp3_for_text = mp3_for_text
        self.default = ok()
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._received: list[ReceivedRequest] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-gtts", daemon=True
        )

    @property
    def base_url(self) -> str:
        """Where the engine should send its requests."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._received)

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order; then fall back to ``default``."""
        with self._lock:
            self._script.extend(replies)

    def start(self) -> FakeGttsServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still waiting are cut short."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeGttsServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def _arrived(self, record: ReceivedRequest) -> None:
        # Recorded on arrival, so a test sees a request even while the stand-in is still "hanging" on it.
        with self._lock:
            self._received.append(record)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _left(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                started = time.monotonic()
                length = int(self.headers.get("Content-Length", 0))
                text, lang, slow = parse_request_body(self.rfile.read(length))
                reply = server._next_reply()
                server._arrived(ReceivedRequest(text, lang, slow, self.path, started, reply.status))
                answered = False
                try:
                    if reply.delay_s:
                        server._stopping.wait(reply.delay_s)
                    body = reply.body if reply.body is not None else batchexecute_reply(server.mp3_for_text(text))
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    # Count the request as done before the body goes out: once the client has the body it
                    # frees its slot and may send the next one, which must not be counted as overlapping.
                    answered = True
                    server._left()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (its timeout): nothing to answer
                finally:
                    if not answered:
                        server._left()

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        return Handler
