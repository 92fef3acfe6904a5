"""Clock times: "7h30", "7g30", "08:15", "7h30'", "7h30-11h", "từ 7-9h".

"14 giờ 30" needs no rule: the number reader gives "mười bốn giờ ba mươi". Written "7h30"
is said with "phút" (bảy giờ ba mươi phút); "7h00" is just "bảy giờ". "7g" alone is seven
grams, so "g" is a time only with minutes.
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.context import next_word, previous_word
from broadcaster.text.numbers import cardinal

_TIME = r"\d{1,2}(?:h(?:\d{2})?|g\d{2}|:\d{2}(?::\d{2})?)(?:'|phút|ph|p)?"
_TIME_PARTS = re.compile(r"(\d{1,2})(?:h(\d{2})?|g(\d{2})|:(\d{2})(?::(\d{2}))?)(?:'|phút|ph|p)?")
_HOUR_G = re.compile(r"(?<![\w.,])(\d{1,2})g(?!\w)")
_TIMES = re.compile(rf"(?<![\w.,:/])(?:({_TIME}|\d{{1,2}})\s*-\s*)?({_TIME})(?![\w:]|[.,]\d)")


def spoken_time(written: str) -> str | None:
    """Read one written time ("7h30" -> "bảy giờ ba mươi phút"), or None if it is not a time."""
    match = _TIME_PARTS.fullmatch(written)
    if not match:
        return None
    hour = int(match.group(1))
    minute = int(match.group(2) or match.group(3) or match.group(4) or 0)
    second = int(match.group(5) or 0)
    if hour > 24 or minute > 59 or second > 59:
        return None
    spoken = f"{cardinal(hour)} giờ"
    if minute or second:
        spoken += f" {cardinal(minute)} phút"
    if second:
        spoken += f" {cardinal(second)} giây"
    return spoken


def read_times(text: str) -> str:
    """Clock times and time ranges, which are read with "đến"."""

    def hour_g(match: re.Match[str]) -> str:
        # "7g sáng", "lúc 7g": next to a time of day or after "lúc", "g" is giờ, not gam.
        hour = int(match.group(1))
        timed = (
            previous_word(match.string, match.start()) == "lúc"
            or next_word(match.string, match.end()) in words.TIMES_OF_DAY
        )
        return f"{cardinal(hour)} giờ" if timed and hour <= 24 else match.group(0)

    text = _HOUR_G.sub(hour_g, text)

    def spoken(match: re.Match[str]) -> str:
        first, last = match.group(1), match.group(2)
        last_spoken = spoken_time(last)
        if last_spoken is None:
            return match.group(0)
        if first is None:
            return last_spoken
        if first.isdecimal():
            # "7-9h": the hour word is said once, at the end.
            return f"{cardinal(int(first))} {words.RANGE} {last_spoken}" if int(first) <= 24 else match.group(0)
        first_spoken = spoken_time(first)
        return f"{first_spoken} {words.RANGE} {last_spoken}" if first_spoken else match.group(0)

    return _TIMES.sub(spoken, text)
