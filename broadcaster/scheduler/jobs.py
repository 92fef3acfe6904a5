"""The functions APScheduler runs, and the registry through which they find the running services.

The job store keeps, for each job, only a ``module:function`` reference (the constants below) and
primitive arguments (a commune id, a session name, an ISO time): nothing of ours is pickled, so
renaming a class never breaks a stored job. The functions reach the live services through the
executor thread they run in, which the leading scheduler bound to itself (``bind_worker_thread``);
nothing is looked up at import time.
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
EMERGENCIES_JOB = "broadcaster.scheduler.jobs:run_emergencies_job"


_worker = threading.local()


def bind_worker_thread(scheduler: BroadcastScheduler) -> None:
    """Run in each of a scheduler's executor threads: jobs running there belong to ``scheduler``.

    Each leading scheduler has its own executor, so a job always reaches the scheduler (and the
    database) whose job store fired it, even with several schedulers in one process; and no
    reference to it is stored with the job, so nothing breaks across restarts.
    """
    _worker.scheduler = scheduler


def _scheduler() -> BroadcastScheduler | None:
    return getattr(_worker, "scheduler", None)


def run_session_job(commune_id: int, session_name: str, starts_at: str) -> None:
    """Air one session occurrence (the job of ``session:<commune>:<session>:<start>``)."""
    scheduler = _scheduler()
    if scheduler is None:
        log.error("session job %s/%s/%s fired with no active scheduler", commune_id, session_name, starts_at)
        return
    scheduler.run_session(commune_id, session_name, datetime.fromisoformat(starts_at))


def run_housekeeping_job() -> None:
    """Expire ended bulletins and plan the coming sessions."""
    scheduler = _scheduler()
    if scheduler is None:
        log.error("housekeeping job fired with no active scheduler")
        return
    scheduler.housekeeping()


def run_emergencies_job() -> None:
    """Resume the accepted emergencies nobody is putting on the air (a dead process left them)."""
    scheduler = _scheduler()
    if scheduler is None:
        log.error("emergencies job fired with no active scheduler")
        return
    scheduler.resume_emergencies()
