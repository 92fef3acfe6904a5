"""Fixtures for the audio tests: speech to render, made once per session."""

from __future__ import annotations

import pytest

from broadcaster.audio.pcm import Pcm
from tests.audio.signals import speech


@pytest.fixture(scope="session")
def speech_pcm() -> Pcm:
    """About 12 s of speech at its natural level."""
    return speech(12.0)
