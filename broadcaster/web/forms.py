"""Reading form and filter fields as the browser sends them: strings, often empty.

An HTML form sends an empty string for an empty date or number field, so these take text and
return None for "nothing given", or raise ``FormInvalid`` with a Vietnamese message naming the field.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date

from broadcaster.models import BulletinStatus, Priority
from broadcaster.web.routing import FormInvalid

MAX_ID = 2**53
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


def optional_date(value: str | None, label: str) -> date | None:
    """A yyyy-mm-dd date field (what ``<input type=date>`` sends), or None when empty."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise FormInvalid(f"«{label}» phải là một ngày (ví dụ 2026-12-01).") from None
    if not FIRST_DAY <= parsed <= LAST_DAY:
        raise FormInvalid(f"«{label}» nằm ngoài khoảng cho phép.")
    return parsed


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
