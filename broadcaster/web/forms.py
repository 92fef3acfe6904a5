"""Reading form and filter fields as the browser sends them: strings, often empty.

An HTML form sends an empty string for an empty date or number field, so these take text and
return None for "nothing given", or raise ``FormInvalid`` with a Vietnamese message naming the field.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import date, time

from broadcaster.models import MAX_ID, BulletinStatus, Priority
from broadcaster.web.routing import FormInvalid

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


# Dates are typed as Vietnamese write them (dd/mm/yyyy, "." or "-" also accepted), whatever the
# browser's locale; yyyy-mm-dd is still read, for links and bookmarks made before.
_VN_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$|^(\d{2})(\d{2})(\d{4})$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOCK = re.compile(r"^(\d{1,2})[:hH.](\d{2})$")


def optional_date(value: str | None, label: str) -> date | None:
    """A dd/mm/yyyy date field (yyyy-mm-dd also read), or None when empty."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if match := _VN_DATE.match(text):
            day_, month, year = (match[1], match[2], match[3]) if match[1] else (match[4], match[5], match[6])
            parsed = date(int(year), int(month), int(day_))
        elif _ISO_DATE.match(text):
            parsed = date.fromisoformat(text)
        else:
            raise ValueError(text)
    except ValueError:
        raise FormInvalid(f"«{label}» phải là một ngày dạng ngày/tháng/năm, ví dụ 01/12/2026.") from None
    if not FIRST_DAY <= parsed <= LAST_DAY:
        raise FormInvalid(f"«{label}» nằm ngoài khoảng cho phép.")
    return parsed


def required_date(value: str | None, label: str) -> date:
    """A dd/mm/yyyy date that must be given."""
    parsed = optional_date(value, label)
    if parsed is None:
        raise FormInvalid(f"Hãy nhập «{label}» (ngày/tháng/năm, ví dụ 01/12/2026).")
    return parsed


def optional_clock(value: str | None, label: str) -> time | None:
    """A 24-hour time of day "HH:MM" (also "6h30"), or None when empty."""
    text = (value or "").strip()
    if not text:
        return None
    match = _CLOCK.match(text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise FormInvalid(f"«{label}» phải là giờ dạng 24 giờ GG:PP, ví dụ 06:00 hoặc 17:30.")
    return time(int(match[1]), int(match[2]))


def date_text(value: date | None) -> str:
    """A date as the form fields show it: dd/mm/yyyy."""
    return f"{value:%d/%m/%Y}" if value is not None else ""


def text(value: str | None, label: str, *, max_length: int, required: bool = True) -> str:
    """A one-line text field, spaces collapsed; ``FormInvalid`` if required and empty or too long."""
    cleaned = " ".join((value or "").split())
    if required and not cleaned:
        raise FormInvalid(f"Hãy nhập «{label}».")
    if len(cleaned) > max_length:
        raise FormInvalid(f"«{label}» dài quá {max_length} ký tự.")
    return cleaned


def choice(value: str | None, label: str, allowed: Iterable[str]) -> str:
    """One of ``allowed`` (a select or radio field)."""
    text_value = (value or "").strip()
    if text_value not in set(allowed):
        raise FormInvalid(f"Lựa chọn «{label}» không hợp lệ.")
    return text_value


def optional_id(value: str | None, label: str) -> int | None:
    """A positive id field, or None when empty."""
    text = (value or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise FormInvalid(f"«{label}» phải là một số dương.")
    return int(text)


def ids(values: Iterable[str], label: str) -> tuple[int, ...]:
    """The ids of ticked checkboxes."""
    found = (optional_id(value, label) for value in values)
    return tuple(sorted({value for value in found if value is not None}))


def number(value: str | None, label: str, *, default: int, low: int, high: int) -> int:
    """A whole number field between ``low`` and ``high`` (``default`` when empty)."""
    text = (value or "").strip()
    if not text:
        return default
    if not text.lstrip("-").isdigit() or not low <= int(text) <= high:
        raise FormInvalid(f"«{label}» phải là số nguyên từ {low} đến {high}.")
    return int(text)


def priority(value: str | None, *, allow_emergency: bool = False) -> Priority:
    """The priority chosen in the form (normal when empty)."""
    text = (value or "").strip() or Priority.NORMAL.value
    allowed = [p for p in Priority if allow_emergency or p != Priority.EMERGENCY]
    for candidate in allowed:
        if candidate.value == text:
            return candidate
    raise FormInvalid("Mức ưu tiên không hợp lệ.")


def optional_priority(value: str | None) -> Priority | None:
    """A priority filter, or None when empty."""
    return priority(value, allow_emergency=True) if (value or "").strip() else None


def optional_status(value: str | None) -> BulletinStatus | None:
    """A status filter, or None when empty."""
    text = (value or "").strip()
    if not text:
        return None
    for status in BulletinStatus:
        if status.value == text:
            return status
    raise FormInvalid("Trạng thái lọc không hợp lệ.")


def new_form_key() -> str:
    """A fresh idempotency key for one form: posting the same form twice creates one bulletin."""
    return "web-" + secrets.token_urlsafe(18)
