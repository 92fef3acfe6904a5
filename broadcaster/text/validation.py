"""Checking a bulletin text before it is stored or spoken.

The limit is generous: a 15-minute session at an announcer's ~150 words a minute holds about
12 000 characters of Vietnamese, so 20 000 characters is already more than one airing.
"""

from __future__ import annotations

import unicodedata

from broadcaster.text.errors import ControlCharacters, EmptyText, InvalidUnicode, NothingToSpeak, TextTooLong
from broadcaster.text.lexicon import Lexicon
from broadcaster.text.pipeline import normalize

MAX_BULLETIN_CHARS = 20_000
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def vietnamese_count(number: int) -> str:
    """A count with Vietnamese digit grouping: 20000 -> "20.000"."""
    return f"{number:,}".replace(",", ".")


def _first_bad(text: str, category: str) -> int | None:
    for index, char in enumerate(text):
        if unicodedata.category(char) == category and char not in _ALLOWED_CONTROLS:
            return index
    return None


def validate_bulletin_text(text: str, lexicon: Lexicon | None = None) -> str:
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
    if not any(char.isalnum() for char in normalize(text, lexicon)):
        raise NothingToSpeak("Văn bản không có chữ hay số nào để đọc (chỉ có biểu tượng, emoji hoặc dấu).")
    return text
