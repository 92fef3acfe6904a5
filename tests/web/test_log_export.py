"""The log as people read it: notes without machine codes, a spreadsheet in Vietnamese with local times."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from broadcaster.services.broadcast_log import LogRow, to_csv
from broadcaster.web.formatting import log_note, note_code
from broadcaster.web.log_export import spreadsheet_csv


def _row(**changes: object) -> LogRow:
    values: dict[str, object] = dict(
        airing_id=7, commune_id=1, kind="session", session_name="sang", airing_status="aired", note=None,
        starts_at=datetime(2026, 12, 4, 23, 0, tzinfo=UTC), cluster_id=3, cluster_name="Thôn Đông",
        delivery_state="cancelled", play_at=datetime(2026, 12, 4, 23, 0, 5, tzinfo=UTC), played_at=None,
        delivery_error="[cancelled] Đã hủy trước khi gửi tới cụm loa.", bulletin_id=12,
        bulletin_title="=HYPERLINK(\"x\")", item_status="included", position=1, duration_s=42.4,
        play_count=None, plays=None,
    )
    values.update(changes)
    return LogRow(**values)  # type: ignore[arg-type]


def test_a_note_shows_its_explanation_and_keeps_the_code_apart() -> None:
    assert log_note("[cancelled] Đã hủy trước khi gửi tới cụm loa.") == "Đã hủy trước khi gửi tới cụm loa."
    assert note_code("[cancelled] Đã hủy trước khi gửi tới cụm loa.") == "cancelled"
    assert log_note("[server_down]") == "Lỗi mã server_down."  # a code alone still says it is an error
    assert log_note("Phát muộn lúc 06:02") == "Phát muộn lúc 06:02" and note_code("Phát muộn") == ""
    assert log_note(None) == ""


def test_the_spreadsheet_is_vietnamese_with_local_times_and_no_formulas() -> None:
    text = spreadsheet_csv([_row()], {"sang": "Buổi sáng"})
    assert text.startswith("\ufeff")
    header, row = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    cells = dict(zip(header, row, strict=True))
    assert header[:3] == ["Mã lượt phát", "Buổi phát", "Giờ bắt đầu buổi"]
    assert cells["Buổi phát"] == "Buổi sáng" and cells["Giờ bắt đầu buổi"] == "05/12/2026 06:00:00"  # UTC+7
    assert cells["Giờ hẹn phát"] == "05/12/2026 06:00:05" and cells["Phát lúc"] == ""
    assert cells["Trạng thái phát"] == "đã dừng" and cells["Trạng thái buổi"] == "đã phát"
    assert cells["Ghi chú"] == "Đã hủy trước khi gửi tới cụm loa." and cells["Mã lỗi"] == "cancelled"
    assert cells["Thời lượng (giây)"] == "42,4"  # the decimal comma
    assert cells["Bản tin"].startswith("'=")  # a spreadsheet does not run it


def test_the_programs_csv_keeps_field_names_and_iso_times() -> None:
    header, row = list(csv.reader(io.StringIO(to_csv([_row()]).lstrip("\ufeff"))))
    cells = dict(zip(header, row, strict=True))
    assert cells["delivery_state"] == "cancelled" and cells["play_at"] == "2026-12-04T23:00:05+00:00"
