"""Timetable files: the default one, occurrences in local time, and errors that name file and field."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import PROJECT_ROOT
from broadcaster.models import Commune
from broadcaster.timetable import (
    TimetableError,
    TimetableNotFound,
    effective_timetable,
    load_timetable_file,
    load_timetables,
    next_occurrences,
    occurrence_at,
    parse_timetable,
)

GOOD_SESSION = '  - name: morning\n    start: "06:00"\n    days: [mon, tue]\n    max_minutes: 15\n'


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_default_is_morning_and_evening_monday_to_saturday_fifteen_minutes() -> None:
    timetables = load_timetables(PROJECT_ROOT / "schedules")
    default = timetables["default"]
    assert [(s.name, s.start, s.max_duration_s) for s in default.sessions] == [
        ("morning", time(6, 0), 900.0),
        ("evening", time(17, 0), 900.0),
    ]
    assert all(s.days == frozenset(range(6)) for s in default.sessions)  # Monday (0) to Saturday (5)


def test_occurrences_are_in_ho_chi_minh_time_and_skip_sunday() -> None:
    default = load_timetables(PROJECT_ROOT / "schedules")["default"]
    # Saturday 2026-11-28 00:00 local to Tuesday 2026-12-01 00:00 local.
    after = datetime(2026, 11, 28, tzinfo=LOCAL_ZONE)
    found = next_occurrences(default, after, after + timedelta(days=3))
    assert [(o.name, o.starts_at.strftime("%a %H:%M")) for o in found] == [
        ("morning", "Sat 06:00"), ("evening", "Sat 17:00"), ("morning", "Mon 06:00"), ("evening", "Mon 17:00"),
    ]
    assert found[0].starts_at.utcoffset() == timedelta(hours=7)
    # The bounds are [after, until): a session starting exactly at ``after`` counts, one at ``until`` does not.
    exact = next_occurrences(default, found[0].starts_at, found[1].starts_at)
    assert [o.starts_at for o in exact] == [found[0].starts_at]


def test_unquoted_clock_times_are_read_as_times_not_base_60_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "default.yaml", "sessions:\n  - name: evening\n    start: 17:00\n    days: [t2, cn]\n"
                                            "    max_minutes: 10\n")
    session = load_timetable_file(path).sessions[0]
    assert session.start == time(17, 0)
    assert session.days == frozenset({0, 6})


def test_an_override_replaces_the_sessions_and_a_missing_timetable_is_named() -> None:
    timetables = load_timetables(PROJECT_ROOT / "schedules")
    commune = Commune(id=1, code="x", name="Xã Thử", timetable="default", timetable_override=None)
    assert effective_timetable(commune, timetables) is timetables["default"]
    commune.timetable_override = {"sessions": [{"name": "noon", "start": "11:30", "days": ["sun"], "max_minutes": 5}]}
    overridden = effective_timetable(commune, timetables)
    assert overridden.overridden and [s.name for s in overridden.sessions] == ["noon"]
    sunday_noon = datetime(2026, 11, 29, 11, 30, tzinfo=LOCAL_ZONE)
    assert occurrence_at(overridden, "noon", sunday_noon) is not None
    assert occurrence_at(overridden, "noon", sunday_noon + timedelta(minutes=1)) is None
    assert occurrence_at(overridden, "morning", sunday_noon) is None
    commune.timetable_override, commune.timetable = None, "nowhere"
    with pytest.raises(TimetableNotFound) as caught:
        effective_timetable(commune, timetables)
    assert "nowhere" in caught.value.message


MALFORMED = [
    # (file text, field named in the error, words of the problem)
    ("sessions:\n  - name: morning\n    start: \"25:00\"\n    days: [mon]\n    max_minutes: 15\n",
     "sessions[0].start", "HH:MM"),
    ("sessions:\n  - name: morning\n    start: \"06:00\"\n    days: [monday]\n    max_minutes: 15\n",
     "sessions[0].days", "monday"),
    ("sessions:\n  - name: morning\n    start: \"06:00\"\n    days: [mon]\n", "sessions[0].max_minutes", "thiếu"),
    ("sessions:\n  - name: morning\n    start: \"06:00\"\n    days: [mon]\n    max_minutes: -3\n",
     "sessions[0].max_minutes", "lớn hơn 0"),
    ("sessions:\n  - name: morning\n    start: \"06:00\"\n    days: [mon]\n    max_minutes: 15\n    volume: 3\n",
     "sessions[0].volume", "trường lạ"),
    ("sessions:\n  - name: morning\n    start: \"06:00\"\n    days: []\n    max_minutes: 15\n",
     "sessions[0].days", "rỗng"),
    ("sessions:\n  - name: Buổi sáng\n    start: \"06:00\"\n    days: [mon]\n    max_minutes: 15\n",
     "sessions[0].name", "chữ thường"),
    ("sessions:\n  - name: emergency\n    start: \"06:00\"\n    days: [mon]\n    max_minutes: 15\n",
     "sessions[0].name", "khẩn cấp"),
    ("sessions: morning\n", "sessions", "danh sách"),
    ("sessions:\n  - name: morning\n    start: \"06:00\"\n    days: mon\n    max_minutes: 15\n",
     "sessions[0].days", "danh sách"),
    ("sessions:\n" + GOOD_SESSION + GOOD_SESSION, "sessions[1].name", "trùng"),
    ("sessions:\n" + GOOD_SESSION + "  - name: late\n    start: \"06:10\"\n    days: [tue]\n    max_minutes: 5\n",
     "sessions[1].start", "chưa hết"),
    ("sesions:\n" + GOOD_SESSION, "sesions", "trường lạ"),
    ("description: x\n", "sessions", "thiếu"),
    ("sessions:\n  - name: morning\n    start: [6]\n    days: [mon]\n    max_minutes: 15\n", "sessions[0].start", "HH:MM"),
]


@pytest.mark.parametrize(("text", "field", "problem"), MALFORMED)
def test_a_malformed_file_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    write(tmp_path, "default.yaml", "sessions:\n" + GOOD_SESSION)
    write(tmp_path, "huyen_a.yaml", text)
    with pytest.raises(TimetableError) as caught:
        load_timetables(tmp_path)
    error = caught.value
    assert (error.code, error.file, error.field) == ("timetable_invalid", "huyen_a.yaml", field)
    assert problem in error.message
    assert "huyen_a.yaml" in error.message and field in error.message


@pytest.mark.parametrize(("text", "problem"), [
    ("sessions:\n  - name: morning\n   start: \"06:00\"\n", "dòng 3"),  # bad indentation
    ("", "rỗng"),
    ("- just\n- a list\n", "mapping"),
    ("sessions: [\n", "cú pháp"),
])  # fmt: skip
def test_a_file_that_is_not_a_timetable_at_all_is_refused_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    write(tmp_path, "default.yaml", text)
    with pytest.raises(TimetableError) as caught:
        load_timetables(tmp_path)
    assert caught.value.file == "default.yaml" and caught.value.field is None
    assert problem in caught.value.message


def test_a_directory_without_default_or_with_a_bad_file_name_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "other.yaml", "sessions:\n" + GOOD_SESSION)
    with pytest.raises(TimetableError, match="default.yaml"):
        load_timetables(tmp_path)
    write(tmp_path, "default.yaml", "sessions:\n" + GOOD_SESSION)
    write(tmp_path, "Xã A.yaml", "sessions:\n" + GOOD_SESSION)
    with pytest.raises(TimetableError) as caught:
        load_timetables(tmp_path)
    assert caught.value.file == "Xã A.yaml"


def test_an_override_dict_is_validated_like_a_file() -> None:
    with pytest.raises(TimetableError) as caught:
        parse_timetable({"sessions": [{"name": "a", "start": "7h", "days": ["mon"], "max_minutes": 5}]},
                        name="default", source="lịch riêng của Xã Thử")
    assert caught.value.field == "sessions[0].start" and "lịch riêng của Xã Thử" in caught.value.message
    # A late Sunday session that runs past midnight collides with Monday's first one.
    with pytest.raises(TimetableError, match="chưa hết"):
        parse_timetable({"sessions": [
            {"name": "late", "start": "23:55", "days": ["sun"], "max_minutes": 10},
            {"name": "early", "start": "00:00", "days": ["mon"], "max_minutes": 5},
        ]}, name="default", source="x")  # fmt: skip
