"""The scheduler lease: one row in ``scheduler_leases`` says which process runs the scheduler.

Two APScheduler 3 schedulers on one job store both run every job, so only the lease holder runs
one. The lease is taken with one conditional UPDATE (``holder = me OR expired``), or an INSERT
that the primary key lets only one process win, so two processes never both believe they hold
it. The holder renews it every ``renew_s``; a holder that stops renewing (killed, frozen, cut
off from the database) loses it ``ttl_s`` after its last renewal, and a standby takes over.

A restarted node takes its own lease back at once: the holder id ends with the node's stable id
(``broadcaster.node_identity``), and a process that holds that node's data-dir lock knows the
previous holder with the same id is dead. A different node still waits out the TTL.

Times are wall-clock UTC from each host: hosts sharing a database must keep their clocks in
sync (NTP) to well under ``ttl_s``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from broadcaster.db import Database, utc_now
from broadcaster.models import SchedulerLease
from broadcaster.node_identity import NodeIdentity, transient_identity

log = logging.getLogger(__name__)

LEASE_NAME = "broadcast-scheduler"


def new_holder_id() -> str:
    """A holder id unique to this process and start: host, pid and a one-off node id."""
    return transient_identity().holder_id()


@dataclass(frozen=True)
class LeaseState:
    """Who holds the lease and until when, as stored."""

    holder: str
    expires_at: datetime


class Lease:
    """Take, renew, check and release the scheduler lease for one holder."""

    def __init__(self, db: Database, ttl_s: float, *, holder: str | None = None, name: str = LEASE_NAME,
                 node: NodeIdentity | None = None) -> None:
        self.db = db
        self.ttl = timedelta(seconds=ttl_s)
        self.node = node or transient_identity()
        self.holder = holder or self.node.holder_id()
        self.name = name
        # When we took over from another holder: its last expiry (it renewed ``ttl`` before that).
        self.previous: LeaseState | None = None

    def state(self) -> LeaseState | None:
        """The stored lease, if any process ever held it."""
        with self.db.session() as s:
            row = s.get(SchedulerLease, self.name)
            return LeaseState(row.holder, row.expires_at) if row is not None else None

    def try_acquire(self) -> bool:
        """Take the lease if it is free, expired, ours, or our node's from a life that ended; True if held now."""
        now = utc_now()
        before = self.state()
        mine = SchedulerLease.holder == self.holder
        if self.node.stable:
            mine = or_(mine, SchedulerLease.holder.endswith(f":{self.node.node_id}", autoescape=True))
        with self.db.session() as s:
            taken = s.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, or_(mine, SchedulerLease.expires_at <= now))
                .values(holder=self.holder, expires_at=now + self.ttl)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                if before is not None and before.holder != self.holder:
                    self.previous = before
                return True
            if s.scalar(select(SchedulerLease.name).where(SchedulerLease.name == self.name)) is not None:
                return False
        try:
            with self.db.session() as s:
                s.add(SchedulerLease(name=self.name, holder=self.holder, expires_at=now + self.ttl))
        except IntegrityError:
            return False  # another process inserted the first row a moment before us
        self.previous = None
        return True

    def renew(self) -> bool:
        """Extend our lease; False if another process holds it now (we must stop running jobs)."""
        now = utc_now()
        with self.db.session() as s:
            renewed = s.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(expires_at=now + self.ttl)
            )
            return renewed.rowcount == 1  # type: ignore[attr-defined]

    def is_held(self) -> bool:
        """True if the stored lease is ours and not expired (checked before every hand-off)."""
        state = self.state()
        return state is not None and state.holder == self.holder and state.expires_at > utc_now()

    def release(self) -> None:
        """Give the lease up at once, so that a standby need not wait for it to expire."""
        with self.db.session() as s:
            s.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(expires_at=utc_now())
            )

    def last_alive(self) -> datetime | None:
        """When the holder we took over from last renewed (None if we took a fresh or our own lease)."""
        return self.previous.expires_at - self.ttl if self.previous is not None else None
