"""A limit on failed logins per user name and client address, for the API and the web login.

After ``max_failures`` failed logins of one user name from one client address within
``window_s`` seconds (a sliding window), that pair is refused with ``LoginRateLimited`` (HTTP
429 with ``Retry-After``) without checking the password, until its oldest failure leaves the
window. A successful login clears the pair's count. Keyed on the pair, so someone guessing from
one address cannot lock the real user out from another.

The counts live in memory, in this process only: a restart forgets them, and with several API
replicas each limits on its own (guessing is then capped at replicas × the limit). That is
enough for the one-machine set-up; a shared store (the database, Redis) would be the next step.

Usage (one limiter per process, ``Runtime.login_limiter``)::

    issued = limiter.attempt(username, client_ip, lambda: auth.login(session, username, password, ttl=ttl))

or, when the caller handles the outcome itself: ``check`` first, then ``failed`` or ``succeeded``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from broadcaster.config import Settings
from broadcaster.errors import BroadcasterError, NotAuthenticated

T = TypeVar("T")
MAX_KEYS = 10_000  # made-up user names must not grow the table without bound


class LoginRateLimited(BroadcasterError):
    """Too many failed logins of this user name from this address; ``retry_after_s`` says when to retry."""

    code = "login_rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after_s: int, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after_s = retry_after_s


def _key(username: str, client: str) -> tuple[str, str]:
    # User names are stored lower-case and logins strip them (services.auth): count them the same way.
    return username.strip().lower(), client


def _wait_text(seconds: int) -> str:
    return f"{seconds} giây" if seconds < 60 else f"{math.ceil(seconds / 60)} phút"


class LoginLimiter:
    """Failed logins per (user name, client address) in a sliding window; in memory, thread-safe."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0, *,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        if max_failures < 1 or window_s <= 0:
            raise ValueError("max_failures must be >= 1 and window_s > 0")
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimiter:
        """A limiter with ``login_max_failures`` and ``login_window_s`` of the settings."""
        return cls(settings.login_max_failures, settings.login_window_s)

    def check(self, username: str, client: str) -> None:
        """``LoginRateLimited`` if this user name is paused for this client address right now."""
        key = _key(username, client)
        now = self._clock()
        with self._lock:
            times = self._recent(key, now)
            if times is None or len(times) < self.max_failures:
                return
            retry_after_s = max(1, math.ceil(times[0] + self.window_s - now))
        raise LoginRateLimited(
            f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {_wait_text(retry_after_s)}.",
            retry_after_s=retry_after_s, detail=f"login paused for {key[0]!r} from {client}",
        )

    def failed(self, username: str, client: str) -> None:
        """Count one failed login of this user name from this address."""
        key = _key(username, client)
        now = self._clock()
        with self._lock:
            times = self._recent(key, now)
            if times is None:
                if len(self._failures) >= self._max_keys:
                    self._make_room(now)
                times = self._failures[key] = deque()
            times.append(now)

    def succeeded(self, username: str, client: str) -> None:
        """Forget the failures of this user name from this address."""
        with self._lock:
            self._failures.pop(_key(username, client), None)

    def failures(self, username: str, client: str) -> int:
        """How many failures of this pair are in the window now."""
        with self._lock:
            return len(self._recent(_key(username, client), self._clock()) or ())

    def attempt(self, username: str, client: str, login: Callable[[], T]) -> T:
        """Run ``login`` unless the pair is paused; count a ``NotAuthenticated`` from it, clear on success."""
        self.check(username, client)
        try:
            result = login()
        except NotAuthenticated:
            self.failed(username, client)
            raise
        self.succeeded(username, client)
        return result

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        """The pair's failures still in the window (None, and forgotten, if there are none)."""
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def _make_room(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        while len(self._failures) >= self._max_keys:
            # Still full of live counts (a flood of made-up names): forget the oldest pairs first.
            del self._failures[next(iter(self._failures))]
