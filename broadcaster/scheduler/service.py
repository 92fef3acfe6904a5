"""``BroadcastScheduler``: the lease loop, APScheduler while leading, and the planning of session jobs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from broadcaster.clock import LOCAL_ZONE, Clock, SystemClock, local
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.errors import BroadcasterError
from broadcaster.models import Airing, AiringStatus, Commune
from broadcaster.node_identity import NodeIdentity
from broadcaster.scheduler.jobs import EMERGENCIES_JOB, HOUSEKEEPING_JOB, SESSION_JOB, bind_worker_thread
from broadcaster.scheduler.lease import Lease
from broadcaster.services.programming import ProgrammingService
from broadcaster.timetable import SessionOccurrence, effective_timetable, next_occurrences

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
HOUSEKEEPING_ID = "housekeeping"
EMERGENCIES_ID = "emergencies"
SESSION_PREFIX = "session:"
SHUTDOWN_WAIT_S = 60.0  # a composition under way may finish before the lease is handed over
JOB_DEFAULTS = {"coalesce": True, "misfire_grace_time": None, "max_instances": 1}


def session_job_id(commune_id: int, session_name: str, starts_at: datetime) -> str:
    """The job id of one session occurrence, e.g. ``session:3:morning:20261201T060000``."""
    return f"{SESSION_PREFIX}{commune_id}:{session_name}:{local(starts_at):%Y%m%dT%H%M%S}"


def _add_session_job(aps: AsyncIOScheduler, commune_id: int, session_name: str, starts_at: datetime,
                     run_at: datetime) -> None:  # fmt: skip
    job_id = session_job_id(commune_id, session_name, starts_at)
    aps.add_job(SESSION_JOB, DateTrigger(run_at, timezone=LOCAL_ZONE), id=job_id,
                name=f"{session_name} {local(starts_at):%d/%m %H:%M:%S} xã {commune_id}",
                args=[commune_id, session_name, starts_at.isoformat()], replace_existing=True)  # fmt: skip


class LeaderDuty(Protocol):
    """Work only the lease holder does beside scheduling (the delivery lanes)."""

    def start(self) -> None:
        """Begin (this process now holds the lease)."""
        ...

    def close(self) -> None:
        """Stop (the lease is lost or given up); what is stored stays for the next holder."""
        ...


class BroadcastScheduler:
    """Runs the timetables while it holds the lease; stands by otherwise. Start inside the event loop."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        programming: ProgrammingService,
        clock: Clock | None = None,
        *,
        holder: str | None = None,
        node: NodeIdentity | None = None,
        delivery: LeaderDuty | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.programming = programming
        self.clock = clock or SystemClock()
        self.lease = Lease(db, settings.scheduler_lease_ttl_s, holder=holder, node=node)
        self.delivery = delivery  # the delivery lanes run where the scheduler runs, and only there
        self._aps: AsyncIOScheduler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._busy = 0
        self._idle = threading.Condition()
        # Housekeeping (a pool thread) and a timetable change (a request thread) may plan at once;
        # interleaved, both would remove the same stale job and the second would fail.
        self._planning = threading.Lock()

    @property
    def is_leader(self) -> bool:
        """True while this process runs the scheduler."""
        return self._aps is not None

    def start(self) -> None:
        """Lead if the lease is free, else stand by; keep renewing or retrying in the background."""
        loop = asyncio.get_running_loop()  # AsyncIOScheduler runs on this loop: start from inside it
        self._loop = loop
        self._stopping = False
        if self.lease.try_acquire():
            self._lead()
        else:
            log.info("scheduler lease held by %s: standing by", (self.lease.state() or "?"))
        self._task = loop.create_task(self._keep_lease(), name="scheduler-lease")

    def shutdown(self) -> None:
        """Stop running jobs, let a composition under way finish, and release the lease at once.

        Callable from the event loop or from another thread (the app's lifespan stops in a thread).
        """
        self._stopping = True
        task, self._task = self._task, None
        if task is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(task.cancel)
        was_leader = self.is_leader
        self._step_down()
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0, timeout=SHUTDOWN_WAIT_S)
        if was_leader:
            self.lease.release()

    def jobs(self) -> list[Job]:
        """The jobs in the store (empty when standing by)."""
        return self._aps.get_jobs() if self._aps is not None else []

    def reschedule_commune(self, commune_id: int) -> int:
        """Re-plan one commune's session jobs after its timetable changed; jobs added or moved."""
        if self._aps is None:
            return 0  # the leader (another process) re-plans at its next housekeeping
        return self.plan(commune_ids=[commune_id])

    def housekeeping(self) -> None:
        """Expire ended bulletins and plan the coming sessions (the ``housekeeping`` job)."""
        if self._stopping or self._aps is None:
            return
        with self._tracking():
            expired = self.programming.expire_bulletins()
            if expired:
                log.info("bulletins expired: %s", expired)
            self.plan()

    def resume_emergencies(self) -> None:
        """Put on the air the accepted emergencies that a dead process left (the ``emergencies`` job)."""
        if self._stopping or self._aps is None:
            return
        with self._tracking():
            resumed = self.programming.resume_emergencies()
        if resumed:
            log.warning("emergency airings resumed after a restart: %s", resumed)

    def run_session(self, commune_id: int, session_name: str, starts_at: datetime) -> None:
        """Air one session occurrence (what a session job does), and retry it later if composing failed."""
        if self._stopping or self._aps is None:
            return
        with self._tracking():
            result = self.programming.run_session(commune_id, session_name, starts_at, guard=self.lease.is_held)
        aps = self._aps
        if result.retry and aps is not None and not self._stopping:
            retry_at = self.clock.now() + timedelta(seconds=min(60.0, self.settings.misfire_grace_s / 4))
            _add_session_job(aps, commune_id, session_name, starts_at, retry_at)

    def plan(self, *, since: datetime | None = None, commune_ids: Sequence[int] | None = None) -> int:
        """Add or move the session jobs of occurrences from ``since`` (default now) to the horizon."""
        with self._planning:
            aps = self._aps
            if aps is None:
                return 0
            return self._plan(aps, since, commune_ids)

    def _plan(self, aps: AsyncIOScheduler, since: datetime | None, commune_ids: Sequence[int] | None) -> int:
        now = self.clock.now()
        since = since or now
        until = now + timedelta(seconds=self.settings.scheduler_horizon_s)
        wanted = self._wanted(since, until, commune_ids)
        lead = timedelta(seconds=self.settings.lead_time_s)
        existing = {job.id: job for job in aps.get_jobs() if job.id.startswith(SESSION_PREFIX)}
        changed = 0
        for job_id, (commune_id, occurrence) in wanted.items():
            run_at = occurrence.starts_at - lead
            job = existing.get(job_id)
            if job is not None:
                run_date = job.trigger.run_date
                # Same time, or a retry set later than a compose time already past: keep it.
                if run_date == run_at or (run_at <= now and run_date > run_at):
                    continue
            _add_session_job(aps, commune_id, occurrence.name, occurrence.starts_at, run_at)
            changed += 1
        for job_id, job in existing.items():
            commune_id, _, starts_at = job.args
            in_scope = commune_ids is None or commune_id in commune_ids
            # A future occurrence no longer in the timetable (moved, removed, commune deleted).
            if in_scope and job_id not in wanted and datetime.fromisoformat(starts_at) >= now:
                aps.remove_job(job_id)
                changed += 1
        return changed

    def _wanted(
        self, since: datetime, until: datetime, commune_ids: Sequence[int] | None
    ) -> dict[str, tuple[int, SessionOccurrence]]:
        """Occurrences in ``[since, until)`` with no finished airing, by job id."""
        wanted: dict[str, tuple[int, SessionOccurrence]] = {}
        with self.db.session() as s:
            query = select(Commune)
            if commune_ids is not None:
                query = query.where(Commune.id.in_(commune_ids))
            communes = s.scalars(query).all()
            finished = {
                (row.commune_id, row.session_name, row.starts_at)
                for row in s.execute(
                    select(Airing.commune_id, Airing.session_name, Airing.starts_at)
                    .where(Airing.starts_at >= since, Airing.status != AiringStatus.PLANNED)
                )
            }  # fmt: skip
            for commune in communes:
                try:
                    timetable = effective_timetable(commune, self.programming.timetables)
                except BroadcasterError as error:
                    log.error("commune %s is not scheduled: %s", commune.id, error.message)
                    continue
                start = max(since, commune.created_at)  # no sessions before the commune existed
                for occurrence in next_occurrences(timetable, start, until):
                    if (commune.id, occurrence.name, occurrence.starts_at) not in finished:
                        wanted[session_job_id(commune.id, occurrence.name, occurrence.starts_at)] = (commune.id, occurrence)
        return wanted

    def _lead(self) -> None:
        try:
            self._start_leading()
        except BaseException:
            self._step_down()
            raise

    def _start_leading(self) -> None:
        if self.delivery is not None:
            self.delivery.start()  # first: the outbox the dead leader left is sent at once
        released = self.programming.release_stale_claims()
        if released:
            log.warning("re-running %s airings a previous leader left half-composed", released)
        aps = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.db.engine, tablename=JOBS_TABLE)},
            executors={"default": ThreadPoolExecutor(
                self.settings.scheduler_workers,
                pool_kwargs={"initializer": bind_worker_thread, "initargs": (self,)},
            )},
            job_defaults=JOB_DEFAULTS,
            timezone=LOCAL_ZONE,
        )
        aps.start(paused=True)  # the job store is open, but nothing runs until the plan is in place
        self._aps = aps
        # Sessions that passed while no scheduler ran: back to when the previous leader last renewed.
        # With no previous leader (a new database) nothing was ever planned, so nothing was missed.
        now = self.clock.now()
        since = now
        last_alive = self.lease.last_alive()
        if last_alive is not None:
            since = max(now - timedelta(seconds=self.settings.scheduler_lookback_s), min(last_alive, now))
        planned = self.plan(since=since)
        aps.add_job(HOUSEKEEPING_JOB, IntervalTrigger(seconds=self.settings.scheduler_housekeeping_s,
                                                      timezone=LOCAL_ZONE),
                    id=HOUSEKEEPING_ID, name=HOUSEKEEPING_ID, replace_existing=True)  # fmt: skip
        # Emergencies accepted before a crash are resumed at once, then checked again now and then.
        aps.add_job(EMERGENCIES_JOB, IntervalTrigger(seconds=self.settings.emergency_retry_s, timezone=LOCAL_ZONE),
                    id=EMERGENCIES_ID, name=EMERGENCIES_ID, replace_existing=True,
                    next_run_time=self.clock.now())  # fmt: skip
        aps.resume()
        log.info("leading the scheduler as %s (%s session jobs planned since %s)",
                 self.lease.holder, planned, since.isoformat())  # fmt: skip

    def _step_down(self) -> None:
        aps, self._aps = self._aps, None
        if aps is not None and aps.running:
            aps.shutdown(wait=False)
        if self.delivery is not None:
            self.delivery.close()

    async def _keep_lease(self) -> None:
        interval = self.settings.scheduler_lease_renew_s
        while not self._stopping:
            await asyncio.sleep(interval)
            try:
                if self._aps is not None:
                    if not await asyncio.to_thread(self.lease.renew):
                        log.error("scheduler lease taken by another process: standing down")
                        self._step_down()
                elif await asyncio.to_thread(self.lease.try_acquire):
                    if self._stopping:
                        await asyncio.to_thread(self.lease.release)
                    else:
                        self._lead()
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the lease loop
                log.exception("scheduler lease loop")
                if self._aps is not None and not await asyncio.to_thread(self._lease_still_ours):
                    self._step_down()

    def _lease_still_ours(self) -> bool:
        try:
            return self.lease.is_held()
        except Exception:  # noqa: BLE001 - cannot tell: assume lost, the safe side
            return False

    @contextlib.contextmanager
    def _tracking(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()
