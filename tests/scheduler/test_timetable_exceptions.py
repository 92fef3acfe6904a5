"""Dated exceptions: a holiday closes the regular sessions, an extra session airs, a session changes for a day."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from broadcaster.clock import LOCAL_ZONE
from broadcaster.timetable import (
    next_occurrences,
    occurrence_at,
    occurrences_on,
    parse_timetable,
    with_exceptions,
)
from broadcaster.timetable_exceptions import ExceptionInvalid, parse_exceptions

WEEK = {"sessions": [
    {"name": "morning", "label": "Buổi sáng", "start": "06:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
     "max_minutes": 15},
    {"name": "evening", "label": "Buổi chiều", "start": "17:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat"],
     "max_minutes": 15},
]}
MONDAY = date(2027, 2, 8)  # Tết 2027 falls that week


def _timetable(*exceptions: dict[str, object]):  # type: ignore[no-untyped-def]
    base = parse_timetable(WEEK, name="x", source="x")
    return with_exceptions(base, parse_exceptions(list(exceptions), "x"))


def _at(day: date, clock: str) -> datetime:
    hour, minute = map(int, clock.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_ZONE)


def test_a_holiday_closes_regular_sessions_but_an_extra_session_still_airs() -> None:
    timetable = _timetable(
        {"kind": "closed", "date": MONDAY.isoformat(), "until": (MONDAY + timedelta(days=2)).isoformat(),
         "label": "Tết Nguyên đán"},
        {"kind": "extra", "date": (MONDAY + timedelta(days=1)).isoformat(), "start": "19:30", "max_minutes": 20,
         "label": "Theo dõi bão"},
    )
    week = next_occurrences(timetable, _at(MONDAY, "00:00"), _at(MONDAY + timedelta(days=4), "00:00"))
    assert [(o.name, o.starts_at) for o in week] == [
        ("them-20270209-1930", _at(MONDAY + timedelta(days=1), "19:30")),
        ("morning", _at(MONDAY + timedelta(days=3), "06:00")),
        ("evening", _at(MONDAY + timedelta(days=3), "17:00")),
    ]
    # What a job checks when it fires: the extra session is in the timetable, the holiday's are not.
    assert occurrence_at(timetable, "them-20270209-1930", _at(MONDAY + timedelta(days=1), "19:30")) is not None
    assert occurrence_at(timetable, "morning", _at(MONDAY, "06:00")) is None
    assert week[0].max_duration_s == 20 * 60 and week[0].label == "Theo dõi bão"


def test_one_session_changes_time_and_length_for_one_day_only() -> None:
    timetable = _timetable({"kind": "changed", "date": MONDAY.isoformat(), "session": "evening", "start": "18:00",
                            "max_minutes": 30})
    monday = occurrences_on(timetable, MONDAY)
    assert [(o.name, o.starts_at, o.max_duration_s) for o in monday] == [
        ("morning", _at(MONDAY, "06:00"), 900.0), ("evening", _at(MONDAY, "18:00"), 1800.0)]
    assert occurrences_on(timetable, MONDAY + timedelta(days=1))[1].starts_at == _at(MONDAY + timedelta(days=1), "17:00")
    assert occurrence_at(timetable, "evening", _at(MONDAY, "17:00")) is None


@pytest.mark.parametrize(("exception", "words"), [
    ({"kind": "extra", "date": "2027-02-08", "start": "06:10", "max_minutes": 10}, "chưa hết"),
    ({"kind": "changed", "date": "2027-02-08", "session": "noon", "max_minutes": 10}, "không có buổi «noon»"),
    ({"kind": "extra", "date": "2027-02-08", "start": "25:00", "max_minutes": 10}, "HH:MM"),
    ({"kind": "closed", "date": "2027-02-08", "until": "2027-02-01"}, "trước ngày bắt đầu"),
    ({"kind": "extra", "date": "2027-02-08"}, "giờ bắt đầu và thời lượng"),
])
def test_bad_exceptions_are_refused_with_the_problem_named(exception: dict[str, object], words: str) -> None:
    with pytest.raises(ExceptionInvalid) as refused:
        _timetable(exception)
    assert words in refused.value.message
