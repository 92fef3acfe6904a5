"""How the pages write things in Vietnamese: labels of statuses and roles, dates, times, durations.

These are Jinja filters and globals (registered in ``web.rendering``) and plain functions the
view-models use; nothing here touches the database.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from broadcaster.clock import local
from broadcaster.models import AiringItemStatus, AiringStatus, BulletinStatus, DeliveryState, Priority, Role
from broadcaster.services.bulletins import STATUS_LABELS
from broadcaster.tts.chain import VoiceChoice

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")

PRIORITY_LABELS = {Priority.NORMAL: "Thường", Priority.PRIORITY: "Ưu tiên", Priority.EMERGENCY: "Khẩn cấp"}
ROLE_LABELS = {Role.OFFICER: "Cán bộ văn hóa", Role.APPROVER: "Lãnh đạo duyệt tin", Role.ADMIN: "Quản trị"}
# Badge colours by meaning, not by status name: the CSS has one class per tone.
STATUS_TONES = {
    BulletinStatus.DRAFT: "muted",
    BulletinStatus.SUBMITTED: "warn",
    BulletinStatus.APPROVED: "ok",
    BulletinStatus.REJECTED: "bad",
    BulletinStatus.CANCELLED: "muted",
    BulletinStatus.AIRED: "info",
    BulletinStatus.EXPIRED: "muted",
}
AIRING_LABELS = {
    AiringStatus.PLANNED: "dự kiến",
    AiringStatus.HANDED_OFF: "đã gửi tới loa",
    AiringStatus.AIRED: "đã phát",
    AiringStatus.AIRED_LATE: "phát muộn",
    AiringStatus.MISSED: "bỏ lỡ",
    AiringStatus.CANCELLED: "đã hủy",
    AiringStatus.EMPTY: "không có tin",
}
DELIVERY_LABELS = {
    DeliveryState.PENDING: "chờ gửi",
    DeliveryState.SENT: "đã gửi",
    DeliveryState.RECEIVED: "loa đã nhận",
    DeliveryState.DOWNLOADED: "đã tải về",
    DeliveryState.PLAYED: "đã phát",
    DeliveryState.FAILED: "lỗi",
    DeliveryState.MISSED: "bỏ lỡ",
    DeliveryState.CANCELLED: "đã dừng",
}
DELIVERY_TONES = {
    DeliveryState.PLAYED: "ok",
    DeliveryState.FAILED: "bad",
    DeliveryState.MISSED: "bad",
    DeliveryState.CANCELLED: "muted",
}
ITEM_LABELS = {AiringItemStatus.INCLUDED: "trong buổi", AiringItemStatus.DEFERRED: "dời sang buổi sau"}
SESSION_KIND_LABELS = {"emergency": "Phát khẩn cấp"}
AUDIT_LABELS = {
    "create": "tạo",
    "edit": "sửa",
    "submit": "gửi duyệt",
    "approve": "duyệt",
    "reject": "từ chối",
    "cancel": "hủy",
    "emergency": "phát khẩn cấp",
    "emergency_stop": "dừng phát khẩn",
    "expire": "hết hạn",
    "aired": "đã lên chương trình phát",
    "defer": "dời sang buổi sau (hết thời lượng)",
    "render_failed": "lỗi khi đọc thành tiếng",
    "approve_heard": "duyệt cách đọc (Máy sẽ đọc là)",
}


def _label(labels: dict[Any, str], value: Any, default: str | None = None) -> str:
    # Enum members are StrEnum: a plain string with the same value finds the same entry.
    key = str(value)
    for member, label in labels.items():
        if str(member) == key:
            return label
    return key if default is None else default


def status_label(status: BulletinStatus | str) -> str:
    """A bulletin status in words ("chờ duyệt")."""
    return _label(STATUS_LABELS, status)


def status_tone(status: BulletinStatus | str) -> str:
    """The badge tone of a bulletin status."""
    return _label(STATUS_TONES, status, "muted")


def priority_label(priority: Priority | str) -> str:
    """A priority in words."""
    return _label(PRIORITY_LABELS, priority)


def role_label(role: Role | str) -> str:
    """A role in words."""
    return _label(ROLE_LABELS, role)


def airing_label(status: str) -> str:
    """An airing status in words."""
    return _label(AIRING_LABELS, status)


def delivery_label(state: str | None) -> str:
    """A delivery state in words (a dash when there was no delivery)."""
    return _label(DELIVERY_LABELS, state) if state else "—"


def delivery_tone(state: str | None) -> str:
    """The badge tone of a delivery state."""
    return _label(DELIVERY_TONES, state, "info") if state else "muted"


def item_label(status: str | None) -> str:
    """Whether a bulletin was in an airing or deferred from it."""
    return _label(ITEM_LABELS, status) if status else "—"


def audit_label(action: str) -> str:
    """An audit action in words."""
    return AUDIT_LABELS.get(action, action)


# A stored failure reads "[code] explanation": the code is for support, the person reads the explanation.
_CODED_NOTE = re.compile(r"^\[([a-z0-9_.-]+)\]\s*(.*)$", re.S)


def log_note(text: str | None) -> str:
    """A log note as a person reads it: the Vietnamese explanation without its machine code in brackets."""
    if not text:
        return ""
    coded = _CODED_NOTE.match(text)
    if coded is None:
        return text
    return coded.group(2) or f"Lỗi mã {coded.group(1)}."


def note_code(text: str | None) -> str:
    """The machine code of a stored failure ("" when it has none), for a tooltip or a data attribute."""
    coded = _CODED_NOTE.match(text or "")
    return coded.group(1) if coded else ""


def day(value: date | datetime | None) -> str:
    """A date as dd/mm/yyyy (a datetime in the communes' zone)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = local(value)
    return f"{value:%d/%m/%Y}"


def day_with_weekday(value: date | datetime) -> str:
    """A date with its weekday: "Thứ Hai 01/12/2026"."""
    if isinstance(value, datetime):
        value = local(value).date()
    return f"{WEEKDAYS[value.weekday()]} {value:%d/%m/%Y}"


def moment(value: datetime | None) -> str:
    """A time in the communes' zone as "dd/mm/yyyy HH:MM"."""
    if value is None:
        return "—"
    return f"{local(value):%d/%m/%Y %H:%M}"


def clock_time(value: datetime | None, seconds: bool = False) -> str:
    """The time of day in the communes' zone: "06:00" (or "06:00:05")."""
    if value is None:
        return "—"
    return f"{local(value):%H:%M:%S}" if seconds else f"{local(value):%H:%M}"


def moment_seconds(value: datetime | None) -> str:
    """A time in the communes' zone with seconds: "dd/mm/yyyy HH:MM:SS"."""
    return "—" if value is None else f"{local(value):%d/%m/%Y %H:%M:%S}"


def since(value: datetime, now: datetime) -> str:
    """How long ago, roughly: "vừa xong", "12 giây trước", "5 phút trước", "3 giờ trước", "2 ngày trước"."""
    seconds = max(0, int((now - value).total_seconds()))
    if seconds < 2:
        return "vừa xong"
    for unit, size in (("ngày", 86400), ("giờ", 3600), ("phút", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} trước"
    return f"{seconds} giây trước"


def duration(seconds: float | None) -> str:
    """A duration in words: "45 giây", "2 phút 05 giây", "1 giờ 02 phút"."""
    if seconds is None:
        return "—"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} giờ {minutes:02d} phút"
    if minutes:
        return f"{minutes} phút {secs:02d} giây"
    return f"{secs} giây"


SHORT_WEEKDAYS = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")


def weekdays(days: frozenset[int] | set[int]) -> str:
    """A session's weekdays (0 = Monday) briefly: "hằng ngày" or "T2, T3, T4"."""
    if len(days) == 7:
        return "hằng ngày"
    return ", ".join(SHORT_WEEKDAYS[d] for d in sorted(days))


def offset(milliseconds: float) -> str:
    """A clock offset in words: "nhanh 120 ms", "chậm 2,4 giây"."""
    direction = "nhanh" if milliseconds >= 0 else "chậm"
    size = abs(milliseconds)
    amount = f"{size:.0f} ms" if size < 1000 else f"{size / 1000:.1f} giây".replace(".", ",")
    return f"{direction} {amount}"


def iso_day(value: str) -> str:
    """A stored yyyy-mm-dd date as dd/mm/yyyy."""
    try:
        return day(date.fromisoformat(value))
    except (TypeError, ValueError):
        return str(value)


_ESPEAK_ACCENTS = {"vi": "giọng Bắc", "vi-vn-x-central": "giọng Trung", "vi-vn-x-south": "giọng Nam"}
_ENGINES = {"piper": "Piper (tự nhiên, ngoại tuyến)", "espeak": "espeak-ng (máy, ngoại tuyến)",
            "gtts": "Google (cần Internet)"}


def voice_label(engine: str, voice: str) -> str:
    """An officer's name for a voice: the engine in words, then the voice."""
    name = _ESPEAK_ACCENTS.get(voice.lower(), voice) if engine == "espeak" else voice
    return f"{_ENGINES.get(engine, engine)} · {name}"


def choice_label(choice: str | None) -> str | None:
    """``voice_label`` of a stored ``engine:voice`` choice (None for none)."""
    if not choice:
        return None
    parsed = VoiceChoice.parse(choice)
    return voice_label(parsed.engine or "", parsed.voice or "") if parsed.engine else choice


FILTERS = {
    "offset": offset,
    "iso_day": iso_day,
    "status_label": status_label,
    "status_tone": status_tone,
    "priority_label": priority_label,
    "role_label": role_label,
    "airing_label": airing_label,
    "delivery_label": delivery_label,
    "delivery_tone": delivery_tone,
    "item_label": item_label,
    "audit_label": audit_label,
    "day": day,
    "day_with_weekday": day_with_weekday,
    "moment": moment,
    "clock_time": clock_time,
    "duration": duration,
    "weekdays": weekdays,
    "moment_seconds": moment_seconds,
    "since": since,
    "voice_label": choice_label,
    "log_note": log_note,
    "note_code": note_code,
}
