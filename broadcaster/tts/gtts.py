"""The online engine: Google Translate's voice through the gTTS library, hardened for unattended use.

gTTS owns the protocol: it builds each request (``batchexecute`` URL path, RPC packaging, headers), and
the reply is read with the framing gTTS reads. We do the sending ourselves because ``gTTS.stream()``
hard-codes ``verify=False`` (anyone on the path could put their own audio on the village loudspeakers),
opens a new session per chunk and has no retry; sending ourselves also lets tests point the engine at a
local stand-in through ``base_url``.

Robustness: an explicit timeout per request; retries on 429, 5xx, connection errors and timeouts, with
exponential backoff plus jitter, honouring Retry-After, bounded in attempts and in total time per call;
at most ``max_concurrency`` chunk requests in flight per engine; text cut at sentence, then clause, then
word boundaries into chunks within Google's 100-character limit, never inside a word.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import logging
import random
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
import tenacity
from gtts import gTTS
from gtts.lang import tts_langs
from requests.adapters import HTTPAdapter

from broadcaster.audio.codec import decode_audio
from broadcaster.audio.pcm import Pcm
from broadcaster.errors import BroadcasterError
from broadcaster.tts.base import (
    EngineError,
    EngineUnavailable,
    NothingToSay,
    SynthesisOptions,
    TtsEngine,
    UnknownVoice,
    VoiceListing,
    register_engine,
)

if TYPE_CHECKING:
    from broadcaster.config import Settings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://translate.google.com"
MAX_CHUNK_CHARS = gTTS.GOOGLE_TTS_MAX_CHARS  # Google refuses longer text in one request
# Google has only "normal" and "slow"; rates at or below this ask for slow, anything else is normal.
SLOW_RATE_AT_OR_BELOW = 0.75
# One 100-character chunk is ~20 KB of MP3; a reply far bigger than that is not Google speaking.
MAX_REPLY_BYTES = 2 * 1024 * 1024
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# The audio line of a batchexecute reply, exactly as gTTS.stream() finds it.
_AUDIO_LINE = re.compile(re.escape(gTTS.GOOGLE_TTS_RPC) + r'","\[\\"(.*)\\"]')
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+")
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+|\s+(?=[-–—]\s)")
_SPEAKABLE = re.compile(r"\w")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one chunk: attempts, total time for the whole call, backoff shape."""

    max_attempts: int = 4
    max_total_s: float = 30.0  # per synthesize() call, all chunks together; plus at most one timeout
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    jitter_s: float = 0.5  # uniform random extra wait, so many callers do not retry in lockstep


class _Transient(Exception):
    """A failure worth retrying: 429, 5xx, a timeout or a dropped connection."""

    def __init__(self, kind: str, detail: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(detail)
        self.kind = kind  # "http", "timeout" or "connection"
        self.detail = detail
        self.status = status
        self.retry_after = retry_after


class _Aborted(Exception):
    """Another chunk of the same call failed for good: stop this one."""


class _WaitBackoffOrRetryAfter(tenacity.wait.wait_base):
    """Exponential backoff with jitter, or the server's Retry-After (plus jitter) when it sent one."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._backoff = tenacity.wait_exponential(
            multiplier=policy.backoff_initial_s, max=policy.backoff_max_s
        ) + tenacity.wait_random(0, policy.jitter_s)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            return error.retry_after + random.uniform(0, self._policy.jitter_s)
        return float(self._backoff(retry_state))


class _StopBeforeDeadline(tenacity.stop.stop_base):
    """Do not start a wait that would end past the call's deadline (time.monotonic())."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return time.monotonic() + retry_state.upcoming_sleep >= self._deadline


def chunk_text(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """Cut text into chunks of at most ``limit`` characters at sentence, clause, then word boundaries.

    Neighbouring pieces are packed together while they fit, to keep requests few and prosody whole.
    Only a single "word" longer than ``limit`` (a URL, not Vietnamese) is ever cut inside.
    """
    text = " ".join(unicodedata.normalize("NFC", text).split())
    pieces: list[str] = []
    for sentence in _SENTENCE_BREAK.split(text):
        if len(sentence) <= limit:
            pieces.append(sentence)
            continue
        for clause in _CLAUSE_BREAK.split(sentence):
            if len(clause) <= limit:
                pieces.append(clause)
            else:
                pieces.extend(_pack(_split_long_words(clause.split(" "), limit), limit))
    return [chunk for chunk in _pack(pieces, limit) if _SPEAKABLE.search(chunk)]


def _split_long_words(words: Iterable[str], limit: int) -> list[str]:
    out: list[str] = []
    for word in words:
        out.extend(word[i : i + limit] for i in range(0, len(word), limit))
    return out


def _pack(pieces: Iterable[str], limit: int) -> list[str]:
    chunks: list[str] = []
    for piece in pieces:
        if not piece:
            continue
        if chunks and len(chunks[-1]) + 1 + len(piece) <= limit:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return chunks


def extract_audio(reply: bytes) -> bytes:
    """The MP3 inside a batchexecute reply; ``EngineError`` if the reply is not one."""
    for line in reply.decode("utf-8", "replace").splitlines():
        if gTTS.GOOGLE_TTS_RPC not in line:
            continue
        found = _AUDIO_LINE.search(line)
        if found is None:
            break
        try:
            audio = base64.b64decode(found.group(1).encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            break
        if audio:
            return audio
        break
    raise EngineError(
        "Máy chủ Google trả về dữ liệu không phải âm thanh (có thể Google đã đổi giao thức).",
        detail=f"no audio in batchexecute reply: {reply[:200]!r}",
    )


def _interruptible_sleep(abort: threading.Event) -> Callable[[float], None]:
    # An abort cuts the wait short; the next attempt then sees the flag and stops.
    def sleep(seconds: float) -> None:
        abort.wait(seconds)

    return sleep


def _vi_seconds(value: float) -> str:
    return f"{value:g}".replace(".", ",")  # Vietnamese decimal comma


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


@register_engine("gtts")
class GttsEngine(TtsEngine):
    """Google Translate's voice (online). Voices are gTTS language codes; the default is ``vi``."""

    name = "gtts"
    online = True

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        base_url: str | None = None,
        timeout_s: float | None = None,
        max_concurrency: int = 3,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        base = base_url or (settings.gtts_base_url if settings is not None else DEFAULT_BASE_URL)
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise EngineUnavailable(
                f"Địa chỉ máy chủ gTTS không hợp lệ: «{base}».", detail=f"bad gtts_base_url {base!r}"
            )
        self._base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._timeout_s = timeout_s or (settings.gtts_timeout_s if settings is not None else 10.0)
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._max_concurrency = max_concurrency
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._retry = retry or RetryPolicy()
        self._session = session or self._new_session(max_concurrency)

    @staticmethod
    def _new_session(pool_size: int) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_maxsize=pool_size, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def synthesize(self, text: str, options: SynthesisOptions) -> Pcm:
        """Speak ``text`` through Google, chunk by chunk (in parallel, bounded), joined in order."""
        if not text.strip():
            raise NothingToSay("Không có chữ nào để đọc.", detail="empty text")
        lang = self._language(options.voice)
        chunks = chunk_text(text)
        if not chunks:
            raise EngineError(
                "Đoạn văn bản không có chữ nào để Google đọc.", detail=f"nothing speakable in {text[:80]!r}"
            )
        slow = options.rate <= SLOW_RATE_AT_OR_BELOW
        pieces = self._speak_all(chunks, lang, slow)
        return pieces[0].concat(*pieces[1:])

    def list_voices(self) -> list[VoiceListing]:
        """Google's Vietnamese voice; whether it answers is only known when a bulletin is sent."""
        return [
            VoiceListing(
                engine=self.name, name=self.default_voice(), usable=True, language="vi",
                note=f"trực tuyến: cần Internet tới {self._base_url}",
            )
        ]

    def _language(self, voice: str | None) -> str:
        lang = voice or self.default_voice()
        if lang not in tts_langs():
            raise UnknownVoice(
                f"Google (gTTS) không có giọng «{lang}». Giọng tiếng Việt là «vi».",
                detail=f"unknown gTTS language {lang!r}",
            )
        return lang

    def _speak_all(self, chunks: list[str], lang: str, slow: bool) -> list[Pcm]:
        deadline = time.monotonic() + self._retry.max_total_s
        abort = threading.Event()
        executor = ThreadPoolExecutor(
            max_workers=min(self._max_concurrency, len(chunks)), thread_name_prefix="gtts"
        )
        futures: list[Future[Pcm]] = [
            executor.submit(self._speak_chunk, chunk, lang, slow, deadline, abort) for chunk in chunks
        ]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and f.exception() is not None), None)
        if failed is None:
            executor.shutdown(wait=True)
            return [f.result() for f in futures]
        # One chunk failed for good: the bulletin cannot be spoken in this voice, stop the others now.
        abort.set()
        executor.shutdown(wait=False, cancel_futures=True)
        error = failed.exception()
        assert error is not None
        raise error

    def _speak_chunk(self, chunk: str, lang: str, slow: bool, deadline: float, abort: threading.Event) -> Pcm:
        request = self._prepare(chunk, lang, slow)
        retrying = tenacity.Retrying(
            stop=(
                tenacity.stop_after_attempt(self._retry.max_attempts)
                | _StopBeforeDeadline(deadline)
                | tenacity.stop_when_event_set(abort)
            ),
            wait=_WaitBackoffOrRetryAfter(self._retry),
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=_interruptible_sleep(abort),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            mp3 = retrying(self._attempt, request, abort)
        except _Transient as exc:
            raise self._give_up(exc, retrying.statistics.get("attempt_number", 1)) from None
        try:
            return decode_audio(mp3)
        except BroadcasterError as exc:
            raise EngineError(
                "Máy chủ Google trả về âm thanh hỏng, không giải mã được.",
                detail=f"undecodable MP3 for chunk {chunk[:40]!r}: {exc.detail or exc}",
            ) from None

    def _prepare(self, chunk: str, lang: str, slow: bool) -> requests.PreparedRequest:
        # gTTS builds the request; its own pre-processing and tokenizing are off, as the chunk is ready.
        tts = gTTS(chunk, lang=lang, slow=slow, lang_check=False, pre_processor_funcs=[])
        try:
            # The one seam gTTS offers to the exact request it would send (gTTS is pinned to 2.x).
            prepared: list[requests.PreparedRequest] = tts._prepare_requests()
        except AssertionError as exc:
            raise EngineError("gTTS không tạo được yêu cầu cho đoạn này.", detail=str(exc)) from None
        if len(prepared) != 1:
            raise EngineError("gTTS chia đoạn văn bản ngoài dự kiến.", detail=f"{len(prepared)} requests")
        request = prepared[0]
        google = urlsplit(str(request.url))
        request.url = self._base_url + google.path + (f"?{google.query}" if google.query else "")
        return request

    def _attempt(self, request: requests.PreparedRequest, abort: threading.Event) -> bytes:
        if abort.is_set():
            raise _Aborted
        with self._slots:
            # Proxies and CA bundle from the environment, as requests.get() would; streamed to cap the size.
            env = self._session.merge_environment_settings(str(request.url), {}, True, None, None)
            try:
                response = self._session.send(request, timeout=self._timeout_s, **env)
            except requests.Timeout as exc:
                raise _Transient("timeout", f"timed out after {self._timeout_s} s: {exc}") from None
            except requests.ConnectionError as exc:
                raise _Transient("connection", f"connection failed: {exc}") from None
            except requests.RequestException as exc:
                raise EngineUnavailable(
                    "Không gửi được yêu cầu tới máy chủ Google.", detail=f"{type(exc).__name__}: {exc}"
                ) from None
            with response:
                return self._read_reply(response)

    def _read_reply(self, response: requests.Response) -> bytes:
        status = response.status_code
        if status in _RETRYABLE_STATUS:
            raise _Transient(
                "http",
                f"HTTP {status}",
                status=status,
                retry_after=_parse_retry_after(response.headers.get("Retry-After")),
            )
        if status != 200:
            raise EngineError(
                f"Máy chủ Google từ chối yêu cầu đọc (HTTP {status}).",
                detail=f"HTTP {status}: {response.content[:200]!r}",
            )
        body = bytearray()
        try:
            for block in response.iter_content(chunk_size=65536):
                body += block
                if len(body) > MAX_REPLY_BYTES:
                    raise EngineError(
                        "Máy chủ Google trả về dữ liệu quá lớn, không phải âm thanh đọc.",
                        detail=f"reply larger than {MAX_REPLY_BYTES} bytes",
                    )
        except requests.RequestException as exc:
            raise _Transient("connection", f"reply cut off: {exc}") from None
        return extract_audio(bytes(body))

    def _give_up(self, last: _Transient, attempts: int) -> EngineError:
        host = urlsplit(self._base_url).netloc
        detail = f"{last.detail} (after {attempts} attempt(s))"
        if last.kind == "timeout":
            return EngineUnavailable(
                f"Máy chủ Google ({host}) không trả lời trong {_vi_seconds(self._timeout_s)} giây"
                f" (đã thử {attempts} lần).",
                detail=detail,
            )
        if last.kind == "connection":
            return EngineUnavailable(
                f"Không kết nối được máy chủ Google ({host}) sau {attempts} lần thử; kiểm tra mạng Internet.",
                detail=detail,
            )
        if last.status == 429:
            return EngineError(
                f"Google đang giới hạn số yêu cầu (HTTP 429) và vẫn từ chối sau {attempts} lần thử.",
                detail=detail,
            )
        return EngineError(
            f"Máy chủ Google báo lỗi (HTTP {last.status}) sau {attempts} lần thử.", detail=detail
        )

    @staticmethod
    def _log_retry(retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        log.warning(
            "gtts: attempt %d failed (%s); retrying in %.2f s",
            retry_state.attempt_number,
            error,
            retry_state.upcoming_sleep,
        )
