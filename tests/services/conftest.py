"""Fixtures the programming-side service tests share: one speech service per module, a fresh database per test.

Each test module keeps its own ``settings`` fixture: the timetable it writes is what the module is about.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.speech import SpeechService
from tests.scheduler.support import make_database, speech_settings


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> SpeechService:
    """One real speech service for the module: its cache makes repeated texts cheap."""
    return SpeechService(speech_settings(tmp_path_factory.mktemp("speech")))


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """A migrated SQLite database for the module's settings, disposed after the test."""
    database = make_database(settings)
    yield database
    database.dispose()
