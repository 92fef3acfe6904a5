"""The broadcast scheduler: runs each commune's timetable sessions, exactly once, surviving restarts.

APScheduler 3.x ``AsyncIOScheduler`` with a ``SQLAlchemyJobStore`` on the service's database, zone
Asia/Ho_Chi_Minh set explicitly. Only the holder of the scheduler lease runs it (see ``lease``);
other processes stand by and take over when the lease expires.

Jobs (explicit ids, ``replace_existing``):

- ``session:<commune id>:<session>:<YYYYmmddTHHMMSS>``: a ``DateTrigger`` at the session start
  minus ``lead_time_s``; composes, renders and hands off that session (``run_session_job``).
- ``housekeeping``: an ``IntervalTrigger`` every ``scheduler_housekeeping_s``; expires ended
  bulletins and plans session jobs ``scheduler_horizon_s`` ahead.

``misfire_grace_time=None``: APScheduler runs an overdue job however late, because "too late to
air" is our rule, measured from the session start (``misfire_grace_s``), not from the job's run
time; the job then airs late or records the session missed, with a note and an audit event.
Letting APScheduler drop a misfired job would leave no trace of the missed session.
``coalesce=True``: a housekeeping job overdue by several intervals runs once, not once per
interval (a one-shot session job has a single run time, so coalescing changes nothing there).
``max_instances=1``: one run of a job at a time.

After a restart the new leader also plans, from the moment the previous leader last renewed its
lease (at most ``scheduler_lookback_s`` back), every session occurrence that has no finished
airing: those jobs are overdue and run at once, which airs them late or records them missed. The
first scheduler ever to run on a database plans from now.
"""

from broadcaster.scheduler.lease import Lease, LeaseState
from broadcaster.scheduler.service import BroadcastScheduler, session_job_id

__all__ = ["BroadcastScheduler", "Lease", "LeaseState", "session_job_id"]
