"""Telephone numbers, read digit by digit in the groups announcers pause between.

"0912 345 678", "0912.345.678", "0912345678" and "+84 912 345 678" all become
"không chín một hai, ba bốn năm, sáu bảy tám" (the commas give the pauses). The writer's own
grouping is kept; an ungrouped mobile number is read 4-3-3, a landline (02x) 3-4-4.
Short hotlines (113, 1022) are read digit by digit only after a word such as "gọi" or
"đường dây nóng": "có 113 hộ" stays a quantity.
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.context import text_before
from broadcaster.text.numbers import digits

_PHONE = re.compile(r"(?<![\w.,+])(\+\s?84|0)((?:[ .-]?\d){8,10})(?!\d|[.,-]\d)")
_TOLL_FREE = re.compile(r"(?<![\w.,+])(1[89]00)[ .-]?(\d{3,4})(?:[ .-]?(\d{2,4}))?(?!\d|[.,]\d)")
_SEPARATOR = re.compile(r"[ .-]")
_HOTLINE = re.compile(
    r"(?i)(?<!\w)((?:"
    + "|".join(re.escape(word) for word in words.PHONE_CONTEXT)
    + r")(?:\s*:)?(?:\s+(?:"
    + "|".join(words.PHONE_FILLERS)
    + r"))*)\s*:?\s*(\d{3,5})(?!\w|[.,]\d)"
)


_EMERGENCY = re.compile(r"(?<![\w.,])(11[1-5])(?!\w|[.,]\d)")
_CALLING_BEFORE = re.compile(
    r"(?i)(?<!\w)(?:" + "|".join(re.escape(word) for word in words.PHONE_CONTEXT) + r")(?!\w)[^.!?]*$"
)


def _default_groups(number: str) -> list[str]:
    sizes = (3, 4, 4) if len(number) == 11 else (4, 3, 3) if len(number) == 10 else (3, 3, 3)
    groups, start = [], 0
    for size in sizes:
        groups.append(number[start : start + size])
        start += size
    if start < len(number):
        groups[-1] += number[start:]
    return groups


def _spoken_groups(groups: list[str]) -> str:
    return ", ".join(digits(group) for group in groups if group)


def _phone(match: re.Match[str]) -> str:
    prefix, rest = match.group(1), match.group(2)
    international = prefix.startswith("+")
    written = rest if international else prefix + rest
    number = _SEPARATOR.sub("", written)
    if len(number) not in ((9, 10) if international else (10, 11)):
        return match.group(0)
    groups = [group for group in _SEPARATOR.split(written) if group]
    if len(groups) == 1:
        # Ungrouped: group as the national number (with its trunk 0), then drop that 0 for +84.
        groups = _default_groups("0" + number if international else number)
        if international:
            groups[0] = groups[0][1:]
    spoken = _spoken_groups(groups)
    return f"{words.PHONE_PLUS} {digits('84')}, {spoken}" if international else spoken


_ACCOUNT = re.compile(r"(?i)((?:số\s+)?tài\s+khoản(?:\s+số)?|STK|số\s+TK)(\s*:?\s*)(\d[\d.\s-]{4,}\d)(?![\w]|[.,]\d)")


def read_account_numbers(text: str) -> str:
    """"tài khoản số 3711.0.1234567" -> digit by digit, the writer's groups as pauses."""

    def spoken(match: re.Match[str]) -> str:
        groups = [group for group in _SEPARATOR.split(match.group(3)) if group]
        return f"{match.group(1)}{match.group(2)}{_spoken_groups(groups)}"

    return _ACCOUNT.sub(spoken, text)


def read_phone_numbers(text: str) -> str:
    """Mobile, landline, +84 and 1800/1900 numbers, and hotlines after a calling word."""
    text = _PHONE.sub(_phone, text)
    text = _TOLL_FREE.sub(lambda m: _spoken_groups([g for g in m.groups() if g]), text)
    text = _HOTLINE.sub(lambda m: f"{m.group(1)} {digits(m.group(2))}", text)

    def emergency(match: re.Match[str]) -> str:
        # "Gọi 0912 345 678 hoặc 113": the calling word is further back in the same sentence.
        calling = _CALLING_BEFORE.search(text_before(match.string, match.start(), 80))
        return digits(match.group(1)) if calling else match.group(0)

    return _EMERGENCY.sub(emergency, text)
