"""Timetables: when each commune's loudspeakers air, read from ``schedules/*.yaml``.

A file names its sessions; each session has a start time, the weekdays it runs on and a cap on
its length::

    description: Lịch phát mặc định
    sessions:
      - name: morning          # a-z, 0-9, _ and -; used in logs and job ids
        label: Buổi sáng       # shown to people
        start: "06:00"         # HH:MM or HH:MM:SS, Asia/Ho_Chi_Minh
        days: [mon, tue, wed, thu, fri, sat]   # or t2 … t7, cn
        max_minutes: 15

Every file is validated when the service starts; an error names the file and the field. A
commune can override its timetable: the override has the same shape and replaces the sessions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from broadcaster.clock import LOCAL_ZONE
from broadcaster.errors import InvalidInput, NotFound
from broadcaster.models import Commune
from broadcaster.timetable_exceptions import (
    DayException,
    ExceptionInvalid,
    closed_on,
    days_touched,
    parse_exceptions,
)

DEFAULT_TIMETABLE = "default"
RESERVED_SESSION_NAMES = frozenset({"emergency"})  # Airing.session_name of emergencies
MAX_SESSION_MINUTES = 180.0

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_DAY_NUMBERS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "t2": 0, "t3": 1, "t4": 2, "t5": 3, "t6": 4, "t7": 5, "cn": 6,
}  # fmt: skip
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimetableError(InvalidInput):
    """A timetable file or override is malformed; ``file`` and ``field`` say where."""

    code = "timetable_invalid"

    def __init__(self, file: str, field: str | None, problem: str) -> None:
        where = f"trường «{field}»" if field else "nội dung"
        super().__init__(f"Lịch phát «{file}» không hợp lệ: {where}: {problem}", detail=f"{file}: {field}: {problem}")
        self.file = file
        self.field = field
        self.problem = problem


class TimetableNotFound(NotFound):
    """A commune names a timetable that no file in ``schedules/`` provides."""

    code = "timetable_not_found"


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads 17:00 as the number 1020 (base 60); here a clock time stays a string."""


_Loader.yaml_implicit_resolvers = {key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _digit in "0123456789":
    _Loader.yaml_implicit_resolvers.setdefault(_digit, []).insert(0, ("tag:yaml.org,2002:str", _CLOCK))


class _SessionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    label: str = ""
    start: str
    days: list[str] = Field(min_length=1)
    max_minutes: float = Field(gt=0, le=MAX_SESSION_MINUTES)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("tên buổi chỉ gồm chữ thường không dấu, số, '_' và '-' (tối đa 64 ký tự)")
        if value in RESERVED_SESSION_NAMES:
            raise ValueError(f"tên «{value}» dành riêng cho phát khẩn cấp")
        return value

    @field_validator("start", mode="before")
    @classmethod
    def _check_start(cls, value: Any) -> str:
        match = _CLOCK.match(value) if isinstance(value, str) else None
        if not match or int(match[1]) > 23 or int(match[2]) > 59 or int(match[3] or 0) > 59:
            raise ValueError('giờ bắt đầu phải có dạng "HH:MM" (00:00 đến 23:59), ví dụ "06:00"')
        return str(value)

    @field_validator("days", mode="before")
    @classmethod
    def _check_days(cls, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise ValueError("ngày phát phải là một danh sách, ví dụ [mon, tue, wed, thu, fri, sat]")
        for day in value:
            if not isinstance(day, str) or day.lower() not in _DAY_NUMBERS:
                raise ValueError(f"ngày «{day}» không hợp lệ; dùng mon … sun hoặc t2 … t7, cn")
        if len({_DAY_NUMBERS[day.lower()] for day in value}) != len(value):
            raise ValueError("một ngày bị ghi hai lần")
        return [day.lower() for day in value]


class _TimetableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    sessions: list[_SessionSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Session:
    """One recurring session of a timetable, e.g. the 06:00 morning session, Monday to Saturday."""

    name: str
    label: str
    start: time
    days: frozenset[int]  # 0 = Monday
    max_duration_s: float

    def occurs_on(self, day: date) -> bool:
        """True if the session runs on ``day`` (a local date)."""
        return day.weekday() in self.days

    def to_dict(self) -> dict[str, Any]:
        """The session in the file's shape (what an override or the API shows)."""
        fmt = "%H:%M:%S" if self.start.second else "%H:%M"
        return {
            "name": self.name,
            "label": self.label,
            "start": self.start.strftime(fmt),
            "days": [DAY_NAMES[day] for day in sorted(self.days)],
            "max_minutes": self.max_duration_s / 60.0,
        }


@dataclass(frozen=True)
class Timetable:
    """A named set of sessions; ``source`` says where it came from (a file, or a commune's override)."""

    name: str
    description: str
    sessions: tuple[Session, ...]
    source: str
    overridden: bool = False
    exceptions: tuple[DayException, ...] = ()  # the commune's holidays, extra and changed sessions

    def session(self, name: str) -> Session | None:
        """The session called ``name``, if the timetable has one."""
        return next((s for s in self.sessions if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The timetable in the file's shape (also the shape of an override)."""
        return {"description": self.description, "sessions": [s.to_dict() for s in self.sessions]}


@dataclass(frozen=True)
class SessionOccurrence:
    """One session on one day: e.g. the morning session of 2026-12-01, starting 06:00 local time."""

    name: str
    label: str
    starts_at: datetime  # aware, Asia/Ho_Chi_Minh
    max_duration_s: float

    @property
    def ends_at(self) -> datetime:
        """When the session must be over (start plus its cap)."""
        return self.starts_at + timedelta(seconds=self.max_duration_s)


def parse_timetable(data: Any, *, name: str, source: str, overridden: bool = False) -> Timetable:
    """Validate one timetable document (parsed YAML or an override dict); ``TimetableError`` if malformed."""
    if data is None:
        raise TimetableError(source, None, "tệp rỗng; cần ít nhất mục «sessions»")
    if not isinstance(data, dict):
        raise TimetableError(source, None, "phải là một bảng (mapping) có mục «sessions»")
    try:
        spec = _TimetableSpec.model_validate(data)
    except ValidationError as error:
        # A misspelt key shows as "unknown" plus "missing"; the unknown one is the real mistake.
        first = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        raise TimetableError(source, _field_path(first["loc"]), _problem(first)) from None
    sessions = tuple(_session(s) for s in spec.sessions)
    _check_unique_names(sessions, source)
    _check_no_overlap(sessions, source)
    return Timetable(name=name, description=spec.description, sessions=sessions, source=source, overridden=overridden)


def load_timetable_file(path: Path) -> Timetable:
    """Read and validate one ``schedules/*.yaml`` file."""
    source = path.name
    if not _NAME.match(path.stem):
        raise TimetableError(source, None, "tên tệp chỉ gồm chữ thường không dấu, số, '_' và '-'")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" ở dòng {mark.line + 1}, cột {mark.column + 1}" if mark is not None else ""
        raise TimetableError(source, None, f"sai cú pháp YAML{where} ({error.problem})") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TimetableError(source, None, f"không đọc được tệp ({error})") from None
    return parse_timetable(data, name=path.stem, source=source)


def load_timetables(directory: Path) -> dict[str, Timetable]:
    """Every ``*.yaml`` timetable in ``directory`` by name; the ``default`` one must exist."""
    if not directory.is_dir():
        raise TimetableError(str(directory), None, "không có thư mục lịch phát này")
    paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    timetables: dict[str, Timetable] = {}
    for path in paths:
        if path.stem in timetables:
            raise TimetableError(path.name, None, f"trùng tên với một tệp lịch khác «{path.stem}»")
        timetables[path.stem] = load_timetable_file(path)
    if DEFAULT_TIMETABLE not in timetables:
        raise TimetableError(str(directory / "default.yaml"), None, "thiếu lịch mặc định «default.yaml»")
    return timetables


def effective_timetable(commune: Commune, timetables: Mapping[str, Timetable]) -> Timetable:
    """The timetable a commune airs by (its override if it has one, else its named one), with its exceptions."""
    exceptions = parse_exceptions(commune.timetable_exceptions, f"xã {commune.name}")
    return with_exceptions(base_timetable(commune, timetables), exceptions)


def base_timetable(commune: Commune, timetables: Mapping[str, Timetable]) -> Timetable:
    """The commune's weekly sessions, without its dated exceptions."""
    if commune.timetable_override:
        return parse_timetable(
            commune.timetable_override,
            name=commune.timetable,
            source=f"lịch riêng của {commune.name}",
            overridden=True,
        )
    timetable = timetables.get(commune.timetable)
    if timetable is None:
        raise TimetableNotFound(
            f"Không có lịch phát «{commune.timetable}» (xã {commune.name}); kiểm tra thư mục schedules/.",
            detail=f"commune {commune.id} names timetable {commune.timetable!r}",
        )
    return timetable


def with_exceptions(timetable: Timetable, exceptions: tuple[DayException, ...]) -> Timetable:
    """``timetable`` with these dated exceptions; ``ExceptionInvalid`` if they clash with its sessions."""
    if not exceptions and not timetable.exceptions:
        return timetable
    combined = replace(timetable, exceptions=exceptions)
    for exception in exceptions:
        if exception.kind == "changed" and timetable.session(exception.session or "") is None:
            raise ExceptionInvalid(f"Ngày {exception.first_day:%d/%m/%Y}: lịch không có buổi «{exception.session}».")
    for day in days_touched(exceptions):
        day_sessions = occurrences_on(combined, day - timedelta(days=1)) + occurrences_on(combined, day)
        day_sessions.sort(key=lambda o: o.starts_at)
        for earlier, later in zip(day_sessions, day_sessions[1:], strict=False):
            if earlier.ends_at > later.starts_at:
                raise ExceptionInvalid(
                    f"Ngày {local_day(later.starts_at):%d/%m/%Y}: buổi «{later.label or later.name}» lúc "
                    f"{later.starts_at:%H:%M} bắt đầu khi buổi «{earlier.label or earlier.name}» chưa hết.")
    return combined


def local_day(moment: datetime) -> date:
    """The local date of an aware time."""
    return moment.astimezone(LOCAL_ZONE).date()


def occurrences_on(timetable: Timetable, day: date) -> list[SessionOccurrence]:
    """The sessions of one local day, with the day's exceptions applied, in time order."""
    closed = closed_on(timetable.exceptions, day)
    changes = {e.session: e for e in timetable.exceptions if e.kind == "changed" and e.covers(day)}
    found: list[SessionOccurrence] = []
    if closed is None:
        for session in timetable.sessions:
            if not session.occurs_on(day):
                continue
            change = changes.get(session.name)
            start = change.start if change and change.start else session.start
            length = change.max_duration_s if change and change.max_duration_s else session.max_duration_s
            found.append(SessionOccurrence(session.name, session.label,
                                           datetime.combine(day, start, tzinfo=LOCAL_ZONE), length))
    for extra in timetable.exceptions:
        if extra.kind == "extra" and extra.covers(day):
            assert extra.start is not None and extra.max_duration_s is not None
            found.append(SessionOccurrence(extra.extra_name, extra.label or "Buổi phát thêm",
                                           datetime.combine(day, extra.start, tzinfo=LOCAL_ZONE),
                                           extra.max_duration_s))
    found.sort(key=lambda o: (o.starts_at, o.name))
    return found


def next_occurrences(timetable: Timetable, after: datetime, until: datetime) -> list[SessionOccurrence]:
    """Session occurrences starting in ``[after, until)``, in time order."""
    if after.tzinfo is None or until.tzinfo is None:
        raise ValueError("aware datetimes required")
    occurrences: list[SessionOccurrence] = []
    day = after.astimezone(LOCAL_ZONE).date() - timedelta(days=1)
    last_day = until.astimezone(LOCAL_ZONE).date()
    while day <= last_day:
        occurrences += [o for o in occurrences_on(timetable, day) if after <= o.starts_at < until]
        day += timedelta(days=1)
    occurrences.sort(key=lambda o: (o.starts_at, o.name))
    return occurrences


def occurrence_at(timetable: Timetable, session_name: str, starts_at: datetime) -> SessionOccurrence | None:
    """The occurrence of ``session_name`` starting exactly at ``starts_at``, if the timetable has it."""
    local_start = starts_at.astimezone(LOCAL_ZONE)
    return next((o for o in occurrences_on(timetable, local_start.date())
                 if o.name == session_name and o.starts_at == local_start), None)


def _session(spec: _SessionSpec) -> Session:
    match = _CLOCK.match(spec.start)
    assert match is not None  # checked by the validator
    start = time(int(match[1]), int(match[2]), int(match[3] or 0))
    days = frozenset(_DAY_NUMBERS[day] for day in spec.days)
    return Session(spec.name, spec.label, start, days, spec.max_minutes * 60.0)


def _check_unique_names(sessions: tuple[Session, ...], source: str) -> None:
    seen: set[str] = set()
    for index, session in enumerate(sessions):
        if session.name in seen:
            raise TimetableError(source, f"sessions[{index}].name", f"tên buổi «{session.name}» bị trùng")
        seen.add(session.name)


def _check_no_overlap(sessions: tuple[Session, ...], source: str) -> None:
    # Every session of the week as (start, length) in seconds from Monday 00:00; the week wraps, so
    # a late Sunday session that runs past midnight is checked against Monday's first one too.
    week = 7 * 86400
    spans: list[tuple[float, float, int]] = []
    for index, session in enumerate(sessions):
        offset = session.start.hour * 3600 + session.start.minute * 60 + session.start.second
        spans += [(day * 86400 + offset, session.max_duration_s, index) for day in session.days]
    spans.sort()
    if len(spans) < 2:
        return
    first_start, first_length, first_index = spans[0]
    following = [*spans[1:], (first_start + week, first_length, first_index)]
    for (start, length, index), (next_start, _, next_index) in zip(spans, following, strict=True):
        if start + length > next_start:
            raise TimetableError(
                source,
                f"sessions[{next_index}].start",
                f"buổi «{sessions[next_index].name}» bắt đầu khi buổi «{sessions[index].name}» "
                "chưa hết thời lượng tối đa",
            )


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(gốc)"


def _problem(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "thiếu trường bắt buộc này"
    if kind == "extra_forbidden":
        return "trường lạ, không được phép (có viết sai tên không?)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("too_short", "list_type") and "min_length" in ctx:
        return "danh sách không được rỗng"
    if kind == "greater_than":
        return f"phải lớn hơn {ctx['gt']}"
    if kind == "less_than_equal":
        return f"không được lớn hơn {ctx['le']}"
    expected = {"string_type": "một chuỗi", "float_type": "một số", "float_parsing": "một số",
                "list_type": "một danh sách", "model_type": "một bảng (mapping)",
                "dict_type": "một bảng (mapping)"}.get(kind)  # fmt: skip
    if expected:
        return f"sai kiểu dữ liệu: cần {expected}"
    return f"giá trị không hợp lệ ({error['msg']})"
