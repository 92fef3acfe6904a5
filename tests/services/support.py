"""Helpers the programming-side service tests share (fixtures are in this folder's conftest.py)."""

from __future__ import annotations

from datetime import datetime

from broadcaster.clock import FixedClock
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import Role, User
from broadcaster.node_identity import NodeIdentity
from broadcaster.services.handoff import ProgrammeHandoff
from broadcaster.services.programming import ProgrammingService
from broadcaster.speech import SpeechService
from broadcaster.timetable import load_timetables


def programming_service(settings: Settings, db: Database, speech: SpeechService, handoff: ProgrammeHandoff,
                        now: datetime, *, node: NodeIdentity | None = None) -> ProgrammingService:
    """The real programming service on the settings' timetables, its clock fixed at ``now``."""
    return ProgrammingService(settings, db, speech, handoff, load_timetables(settings.schedules_dir), FixedClock(now),
                              node=node)


def add_officer(db: Database, commune_id: int, username: str = "canbo") -> int:
    """An officer (cán bộ văn hóa) of the commune; their id."""
    with db.session() as s:
        officer = User(username=username, role=Role.OFFICER, commune_id=commune_id, password_hash="x")
        s.add(officer)
        s.flush()
        return officer.id
