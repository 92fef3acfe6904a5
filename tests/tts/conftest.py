"""Fixtures for the TTS tests: a stand-in Google server on 127.0.0.1, a tiny Piper voice, engines wired to them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from broadcaster.tts.gtts import GttsEngine, RetryPolicy
from tests.fakes.gtts_server import FakeGttsServer
from tests.fakes.piper_voice import write_voice

# Short waits so retry tests stay fast, but long enough that a missing backoff is measurable.
FAST_RETRY = RetryPolicy(max_attempts=3, max_total_s=10.0, backoff_initial_s=0.2, backoff_max_s=0.4, jitter_s=0.05)


@pytest.fixture
def gtts_server() -> Iterator[FakeGttsServer]:
    """A fresh stand-in server per test (its script and records start empty)."""
    with FakeGttsServer() as server:
        yield server


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """A retry policy with short, still measurable, backoffs."""
    return FAST_RETRY


@pytest.fixture
def gtts_engine(gtts_server: FakeGttsServer, fast_retry: RetryPolicy) -> GttsEngine:
    """The gTTS engine pointed at the stand-in server."""
    return GttsEngine(base_url=gtts_server.base_url, timeout_s=2.0, retry=fast_retry)


@pytest.fixture
def piper_voices(tmp_path: Path) -> Path:
    """A voices directory holding the tiny test voice ``vi_VN-test-x_low`` (a real ONNX file and config)."""
    voices = tmp_path / "voices"
    write_voice(voices)
    return voices
