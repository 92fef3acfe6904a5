"""Helpers the programming-side service tests share (fixtures are in this folder's conftest.py)."""

from __future__ import annotations

from datetime import datetime

from broadcaster.clock import FixedClock
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.services.handoff import ProgrammeHandoff
from broadcaster.services.programming import ProgrammingService
from broadcaster.speech import SpeechService
from broadcaster.timetable import load_timetables


def programming_service(settings: Settings, db: Database, speech: SpeechService, handoff: ProgrammeHandoff,
                        now: datetime) -> ProgrammingService:
    """The real programming service on the settings' timetables, its clock fixed at ``now``."""
    return ProgrammingService(settings, db, speech, handoff, load_timetables(settings.schedules_dir), FixedClock(now))
