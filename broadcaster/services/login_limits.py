"""Failed logins, limited per (account, address) and per address, with growing delays, in the database.

A wrong password counts against two rows: the pair (this user name from this client address) and
the address (every user name from it). Up to ``free_failures`` failures a row costs nothing;
after that each failure makes its row wait longer before the next try: ``first_delay_s`` (1 s),
then twice as long each time, up to ``max_delay_s``. Tries while a row waits are refused without
counting. A row whose last failure is older than ``window_s`` starts again from zero, and
a successful login clears its pair. An address gets ``ADDRESS_FACTOR`` times as many free
failures (a commune office, or a whole 4G carrier NAT, shares one address).

No account is ever locked: someone guessing the chairman's password from one address slows only
that address, and the chairman logs in from theirs. A waiting row answers 429 with
``Retry-After``, without checking the password (argon2 is not free).

The rows live in the database (``login_throttles``), so every server replica counts the same
failures and a restart forgets nothing. Each change is one upsert computed in SQL, so two
replicas counting at once do not lose a failure. Keys are sha256 hashes: the user names strangers
type (or a password typed in the wrong box) are not stored in clear.

Usage (one limiter per process, ``Runtime.login_limiter``)::

    issued = limiter.attempt(username, client_address, lambda: auth.login(session, username, password, ttl=ttl))
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from broadcaster.clock import Clock, SystemClock
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.errors import BroadcasterError, NotAuthenticated
from broadcaster.models import LoginThrottle

T = TypeVar("T")
ADDRESS_FACTOR = 10


class LoginRateLimited(BroadcasterError):
    """Too many failed logins of this user name from this address (or from it at all); wait ``retry_after_s``."""

    code = "login_rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after_s: int, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after_s = retry_after_s


def _wait_text(seconds: int) -> str:
    return f"{seconds} giây" if seconds < 60 else f"{math.ceil(seconds / 60)} phút"


def _pair_key(username: str, address: str) -> str:
    # User names are stored lower-case and logins strip them (services.auth): count them the same way.
    return hashlib.sha256(f"pair\0{username.strip().lower()}\0{address}".encode()).hexdigest()


def _address_key(address: str) -> str:
    return hashlib.sha256(f"address\0{address}".encode()).hexdigest()


class LoginLimiter:
    """Growing delays after failed logins, per (user name, address) and per address, shared through the database."""

    def __init__(self, db: Database, *, free_failures: int = 5, window_s: float = 900.0,
                 first_delay_s: float = 1.0, max_delay_s: float = 900.0, clock: Clock | None = None) -> None:
        if free_failures < 1 or window_s <= 0 or not 0 < first_delay_s <= max_delay_s:
            raise ValueError("free_failures must be >= 1, window_s > 0, 0 < first_delay_s <= max_delay_s")
        self.db = db
        self.free = {"pair": free_failures, "address": free_failures * ADDRESS_FACTOR}
        self.window = timedelta(seconds=window_s)
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self._clock = clock or SystemClock()

    @classmethod
    def from_settings(cls, settings: Settings, db: Database, clock: Clock | None = None) -> LoginLimiter:
        """A limiter with the ``login_*`` settings."""
        return cls(db, free_failures=settings.login_max_failures, window_s=settings.login_window_s,
                   first_delay_s=settings.login_first_delay_s, max_delay_s=settings.login_max_delay_s, clock=clock)

    def delay_s(self, scope: str, failures: int) -> float:
        """How long a row with ``failures`` recent failures waits before the next try."""
        over = failures - self.free[scope]
        if over <= 0:
            return 0.0
        return min(self.max_delay_s, self.first_delay_s * 2.0 ** min(over - 1, 40))

    def check(self, username: str, address: str) -> None:
        """``LoginRateLimited`` if this user name from this address, or this address, must wait now."""
        now = self._clock.now()
        keys = (_pair_key(username, address), _address_key(address))
        with self.db.session() as session:
            until = session.scalars(select(LoginThrottle.blocked_until).where(
                LoginThrottle.key.in_(keys), LoginThrottle.blocked_until > now)).all()
        if not until:
            return
        retry_after_s = max(1, math.ceil((max(until) - now).total_seconds()))
        raise LoginRateLimited(
            f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {_wait_text(retry_after_s)}.",
            retry_after_s=retry_after_s, detail=f"login delayed for {username.strip().lower()!r} from {address}",
        )

    def failed(self, username: str, address: str) -> None:
        """Count one failed login of this user name from this address."""
        now = self._clock.now()
        with self.db.session() as session:
            for scope, key in (("pair", _pair_key(username, address)), ("address", _address_key(address))):
                failures = self._count(session, scope, key, now)
                delay = self.delay_s(scope, failures)
                session.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(
                    blocked_until=now + timedelta(seconds=delay) if delay else None))
            # Forget rows nobody has failed on for a window (made-up names must not grow the table).
            session.execute(delete(LoginThrottle).where(
                LoginThrottle.last_failure_at < now - self.window - timedelta(seconds=self.max_delay_s)))

    def _count(self, session: Any, scope: str, key: str, now: datetime) -> int:
        """Add one failure to the row in one statement (a stale row starts again at one); the new count."""
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(LoginThrottle).values(key=key, scope=scope, failures=1, last_failure_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={"failures": case((LoginThrottle.last_failure_at < now - self.window, 1),
                                   else_=LoginThrottle.failures + 1),
                  "last_failure_at": now},
        ).returning(LoginThrottle.failures)
        return int(session.execute(statement).scalar_one())

    def succeeded(self, username: str, address: str) -> None:
        """Forget the failures of this user name from this address (the address keeps its count)."""
        with self.db.session() as session:
            session.execute(delete(LoginThrottle).where(LoginThrottle.key == _pair_key(username, address)))

    def failures(self, username: str, address: str) -> int:
        """How many recent failures count against this pair now."""
        with self.db.session() as session:
            row = session.get(LoginThrottle, _pair_key(username, address))
            if row is None or row.last_failure_at < self._clock.now() - self.window:
                return 0
            return row.failures

    def attempt(self, username: str, address: str, login: Callable[[], T]) -> T:
        """Run ``login`` unless the pair or address must wait; count a ``NotAuthenticated`` from it, clear on success."""
        self.check(username, address)
        try:
            result = login()
        except NotAuthenticated:
            self.failed(username, address)
            raise
        self.succeeded(username, address)
        return result
