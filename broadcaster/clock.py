"""Where "now" comes from: injected, so the rules that depend on time can be tested at any time.

APScheduler keeps its own wall clock for firing jobs; our clock decides what a job does when it
fires (on time, late or missed), and tests give that decision a fixed or shifted "now".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from broadcaster.config import TIMEZONE

LOCAL_ZONE = ZoneInfo(TIMEZONE)


class Clock(Protocol):
    """Anything that tells the current time as an aware datetime."""

    def now(self) -> datetime:
        """The current time, aware."""
        ...


class SystemClock:
    """The machine's clock, in Asia/Ho_Chi_Minh whatever the machine's own zone is."""

    def now(self) -> datetime:
        """The current time, aware, in Asia/Ho_Chi_Minh."""
        return datetime.now(LOCAL_ZONE)


class FixedClock:
    """A clock that stands still until moved: for deciding "late or missed" at an exact instant."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        """The instant the clock is set to."""
        return self._at

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self._at += timedelta(seconds=seconds)


def local(moment: datetime) -> datetime:
    """``moment`` shown in Asia/Ho_Chi_Minh (the zone every session and bulletin date is in)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime; use aware datetimes")
    return moment.astimezone(LOCAL_ZONE)
