"""Dated exceptions to a commune's timetable: holidays, extra sessions, a changed session for one day.

Stored on the commune (``Commune.timetable_exceptions``) as a list of small documents::

    - {kind: closed, date: "2027-02-05", until: "2027-02-10", label: "Tết Nguyên đán"}   # no sessions
    - {kind: extra, date: "2027-02-12", start: "19:30", max_minutes: 20, label: "Lễ hội"}  # one more
    - {kind: changed, date: "2027-03-08", session: evening, max_minutes: 30}              # longer that day
    - {kind: changed, date: "2027-03-09", session: morning, start: "07:00"}                # later that day

A closed day cancels the regular sessions only: an extra session on the same day (a storm
watch during Tết) still airs, and emergencies are never affected. ``occurrences_on`` applies
them to one day; the scheduler, the jobs and the pages all go through it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from broadcaster.errors import InvalidInput

MAX_CLOSED_DAYS = 60
MAX_EXCEPTIONS = 200
EXTRA_PREFIX = "them-"
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
KIND_LABELS = {"closed": "Nghỉ phát", "extra": "Buổi phát thêm", "changed": "Đổi buổi phát"}


class ExceptionInvalid(InvalidInput):
    """A timetable exception is malformed or clashes with the sessions."""

    code = "timetable_exception_invalid"


class _ExceptionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["closed", "extra", "changed"]
    date: date
    until: date | None = None
    label: str = Field(default="", max_length=200)
    session: str | None = Field(default=None, max_length=64)
    start: str | None = None
    max_minutes: float | None = Field(default=None, gt=0, le=180)

    @field_validator("start")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _CLOCK.match(value)
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError('giờ phải có dạng "HH:MM", ví dụ "19:30"')
        return f"{int(match[1]):02d}:{match[2]}"

    @model_validator(mode="after")
    def _complete(self) -> _ExceptionSpec:
        if self.kind == "closed":
            last = self.until or self.date
            if last < self.date:
                raise ValueError("ngày kết thúc trước ngày bắt đầu")
            if (last - self.date).days >= MAX_CLOSED_DAYS:
                raise ValueError(f"một lần nghỉ dài tối đa {MAX_CLOSED_DAYS} ngày")
        elif self.kind == "extra":
            if self.start is None or self.max_minutes is None:
                raise ValueError("buổi phát thêm cần giờ bắt đầu và thời lượng")
        elif self.session is None or (self.start is None and self.max_minutes is None):
            raise ValueError("cần chọn buổi phát và giờ mới hoặc thời lượng mới")
        return self


@dataclass(frozen=True)
class DayException:
    """One exception, parsed."""

    kind: str  # closed | extra | changed
    first_day: date
    last_day: date
    label: str
    session: str | None
    start: time | None
    max_duration_s: float | None

    def covers(self, day: date) -> bool:
        """True if the exception applies to ``day``."""
        return self.first_day <= day <= self.last_day

    @property
    def extra_name(self) -> str:
        """The session name of an extra session (in airings and job ids): ``them-20270212-1930``."""
        assert self.start is not None
        return f"{EXTRA_PREFIX}{self.first_day:%Y%m%d}-{self.start:%H%M}"

    def to_dict(self) -> dict[str, Any]:
        """The stored shape."""
        stored: dict[str, Any] = {"kind": self.kind, "date": self.first_day.isoformat()}
        if self.kind == "closed" and self.last_day != self.first_day:
            stored["until"] = self.last_day.isoformat()
        if self.label:
            stored["label"] = self.label
        if self.session is not None:
            stored["session"] = self.session
        if self.start is not None:
            stored["start"] = self.start.strftime("%H:%M")
        if self.max_duration_s is not None:
            stored["max_minutes"] = self.max_duration_s / 60.0
        return stored


def parse_exceptions(documents: Sequence[Any] | None, source: str) -> tuple[DayException, ...]:
    """Validate stored or submitted exceptions; ``ExceptionInvalid`` names the one that is wrong."""
    if not documents:
        return ()
    if not isinstance(documents, list) or len(documents) > MAX_EXCEPTIONS:
        raise ExceptionInvalid(f"Ngoại lệ của lịch phát ({source}) phải là một danh sách tối đa {MAX_EXCEPTIONS} mục.")
    parsed = []
    for index, document in enumerate(documents):
        try:
            spec = _ExceptionSpec.model_validate(document)
        except ValidationError as error:
            first = error.errors()[0]
            problem = str((first.get("ctx") or {}).get("error", first["msg"]))
            raise ExceptionInvalid(f"Ngoại lệ thứ {index + 1} của lịch phát ({source}) không hợp lệ: {problem}.",
                                   detail=str(error)[:500]) from None
        start = time.fromisoformat(spec.start) if spec.start else None
        minutes = spec.max_minutes
        parsed.append(DayException(spec.kind, spec.date, spec.until or spec.date, " ".join(spec.label.split()),
                                   spec.session, start, minutes * 60.0 if minutes is not None else None))
    return tuple(sorted(parsed, key=lambda e: (e.first_day, e.kind, e.start or time())))


def closed_on(exceptions: Sequence[DayException], day: date) -> DayException | None:
    """The holiday that closes ``day``, if any."""
    return next((e for e in exceptions if e.kind == "closed" and e.covers(day)), None)


def days_touched(exceptions: Sequence[DayException]) -> list[date]:
    """Every day some exception applies to (for checking clashes)."""
    days: set[date] = set()
    for exception in exceptions:
        day = exception.first_day
        while day <= exception.last_day:
            days.add(day)
            day += timedelta(days=1)
    return sorted(days)
