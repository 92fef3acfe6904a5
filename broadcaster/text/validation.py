"""Checking a bulletin text before it is stored or spoken.

Two limits. The written one is generous: a 15-minute session at an announcer's ~150 words a
minute holds about 12 000 characters of Vietnamese, so 20 000 characters is already more than one
airing. The spoken one is what counts: dates, times and numbers grow when read ("15/12/2026" is
fifteen syllables), so the text is also measured after normalization, in seconds of speech, and
refused beyond ``MAX_SPOKEN_S`` (the default session: a longer bulletin could never air).
"""

from __future__ import annotations

import math
import re
import unicodedata

from broadcaster.text.errors import (
    ControlCharacters,
    EmptyText,
    InvalidUnicode,
    NothingToSpeak,
    SpokenTooLong,
    TextTooLong,
)
from broadcaster.text.lexicon import Lexicon
from broadcaster.text.pipeline import normalize
from broadcaster.text.visibility import check_shown_as_spoken

MAX_BULLETIN_CHARS = 20_000
MAX_SPOKEN_S = 15 * 60.0
# Announcer pace of the default voice, measured on espeak-ng "vi" at 150 wpm with pauses.
SYLLABLES_PER_SECOND = 3.5
_ALLOWED_CONTROLS = frozenset("\t\n\r")
_SYLLABLE = re.compile(r"\w+")


def vietnamese_count(number: int) -> str:
    """A count with Vietnamese digit grouping: 20000 -> "20.000"."""
    return f"{number:,}".replace(",", ".")


def spoken_seconds(spoken: str) -> float:
    """The estimated speaking time of normalized text, from its syllable count."""
    return len(_SYLLABLE.findall(spoken)) / SYLLABLES_PER_SECOND


def _first_bad(text: str, category: str) -> int | None:
    for index, char in enumerate(text):
        if unicodedata.category(char) == category and char not in _ALLOWED_CONTROLS:
            return index
    return None


def validate_bulletin_text(text: str, lexicon: Lexicon | None = None, *, max_spoken_s: float = MAX_SPOKEN_S) -> str:
    """Check a bulletin text and return it in NFC; raise a text error with a Vietnamese message."""
    surrogate = _first_bad(text, "Cs")
    if surrogate is not None:
        raise InvalidUnicode(
            f"Văn bản có ký tự hỏng ở vị trí {surrogate + 1}: có lẽ tệp không được lưu bằng UTF-8.",
            detail=f"lone surrogate U+{ord(text[surrogate]):04X} at index {surrogate}",
        )
    text = unicodedata.normalize("NFC", text)
    if not text.strip():
        raise EmptyText("Văn bản trống: hãy nhập nội dung bản tin.")
    if len(text) > MAX_BULLETIN_CHARS:
        raise TextTooLong(
            f"Văn bản dài {vietnamese_count(len(text))} ký tự, vượt giới hạn {vietnamese_count(MAX_BULLETIN_CHARS)} "
            "ký tự của một bản tin. Hãy chia thành nhiều bản tin.",
            detail=f"{len(text)} > {MAX_BULLETIN_CHARS}",
        )
    control = _first_bad(text, "Cc")
    if control is not None:
        raise ControlCharacters(
            f"Văn bản có ký tự điều khiển không đọc được (mã U+{ord(text[control]):04X}) ở vị trí {control + 1}.",
            detail=f"control character at index {control}",
        )
    check_shown_as_spoken(text)
    spoken = normalize(text, lexicon)
    if not any(char.isalnum() for char in spoken):
        raise NothingToSpeak("Văn bản không có chữ hay số nào để đọc (chỉ có biểu tượng, emoji hoặc dấu).")
    seconds = spoken_seconds(spoken)
    if seconds > max_spoken_s:
        raise SpokenTooLong(
            f"Đọc lên, bản tin dài khoảng {math.ceil(seconds / 60)} phút (số, ngày, giờ được đọc thành chữ), "
            f"vượt giới hạn {max_spoken_s / 60:g} phút của một bản tin. Hãy rút gọn hoặc chia thành nhiều bản tin.",
            detail=f"estimated {seconds:.0f} s spoken > {max_spoken_s:.0f} s",
        )
    return text
