"""The broadcast log as a spreadsheet for officers: Vietnamese headings, labels and dd/mm/yyyy times.

The API's CSV (``/api/v1/broadcast-log.csv``) keeps field names and ISO times for programs; this one is
what the log page's "Tải CSV" gives a person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from broadcaster.services.broadcast_log import LogRow, write_csv
from broadcaster.web.formatting import (
    airing_label,
    delivery_label,
    item_label,
    log_note,
    moment_seconds,
    note_code,
)

Cell = Callable[[LogRow, Mapping[str, str]], object]


def _when(value: datetime | None) -> str:
    return moment_seconds(value) if value is not None else ""


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}".replace(".", ",")  # Vietnamese decimal comma


COLUMNS: tuple[tuple[str, Cell], ...] = (
    ("Mã lượt phát", lambda r, _: r.airing_id),
    ("Buổi phát", lambda r, labels: labels.get(r.session_name, r.session_name)),
    ("Giờ bắt đầu buổi", lambda r, _: _when(r.starts_at)),
    ("Trạng thái buổi", lambda r, _: airing_label(r.airing_status)),
    ("Mã cụm loa", lambda r, _: r.cluster_id),
    ("Cụm loa", lambda r, _: r.cluster_name),
    ("Mã bản tin", lambda r, _: r.bulletin_id),
    ("Bản tin", lambda r, _: r.bulletin_title),
    ("Thứ tự", lambda r, _: r.position),
    ("Trong buổi", lambda r, _: item_label(r.item_status) if r.item_status else ""),
    ("Trạng thái phát", lambda r, _: delivery_label(r.delivery_state) if r.delivery_state else ""),
    ("Giờ hẹn phát", lambda r, _: _when(r.play_at)),
    ("Phát lúc", lambda r, _: _when(r.played_at)),
    ("Thời lượng (giây)", lambda r, _: _seconds(r.duration_s)),
    ("Số lần phát", lambda r, _: r.play_count or ""),  # more than one: cut and aired again
    ("Các lần phát", lambda r, _: r.plays or ""),
    ("Ghi chú", lambda r, _: log_note(r.delivery_error or r.note)),
    ("Mã lỗi", lambda r, _: note_code(r.delivery_error)),
)


def spreadsheet_csv(rows: Iterable[LogRow], session_labels: Mapping[str, str]) -> str:
    """The rows as a CSV file a commune officer opens in a spreadsheet."""
    return write_csv([title for title, _ in COLUMNS],
                     ([cell(row, session_labels) for _, cell in COLUMNS] for row in rows))
