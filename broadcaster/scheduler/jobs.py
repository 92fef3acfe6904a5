"""The functions APScheduler runs, and the registry through which they find the running services.

The job store keeps, for each job, only a ``module:function`` reference (the constants below) and
primitive arguments (a commune id, a session name, an ISO time): nothing of ours is pickled, so
renaming a class never breaks a stored job. The functions reach the live services through the
registry, which the scheduler fills when it starts leading and empties when it stops; nothing is
looked up at import time.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from broadcaster.scheduler import BroadcastScheduler

log = logging.getLogger(__name__)

SESSION_JOB = "broadcaster.scheduler.jobs:run_session_job"
HOUSEKEEPING_JOB = "broadcaster.scheduler.jobs:run_housekeeping_job"


class SchedulerRegistry:
    """The scheduler that leads in this process (at most one: jobs carry no reference to it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: BroadcastScheduler | None = None

    def activate(self, scheduler: BroadcastScheduler) -> None:
        """Make ``scheduler`` the one jobs report to; refuse a second leader in one process."""
        with self._lock:
            if self._active is not None and self._active is not scheduler:
                raise RuntimeError("another BroadcastScheduler already leads in this process")
            self._active = scheduler

    def deactivate(self, scheduler: BroadcastScheduler) -> None:
        """Forget ``scheduler`` (if it is the active one)."""
        with self._lock:
            if self._active is scheduler:
                self._active = None

    def active(self) -> BroadcastScheduler | None:
        """The leading scheduler, if any."""
        with self._lock:
            return self._active


REGISTRY = SchedulerRegistry()


def run_session_job(commune_id: int, session_name: str, starts_at: str) -> None:
    """Air one session occurrence (the job of ``session:<commune>:<session>:<start>``)."""
    scheduler = REGISTRY.active()
    if scheduler is None:
        log.error("session job %s/%s/%s fired with no active scheduler", commune_id, session_name, starts_at)
        return
    scheduler.run_session(commune_id, session_name, datetime.fromisoformat(starts_at))


def run_housekeeping_job() -> None:
    """Expire ended bulletins and plan the coming sessions."""
    scheduler = REGISTRY.active()
    if scheduler is None:
        log.error("housekeeping job fired with no active scheduler")
        return
    scheduler.housekeeping()
