"""Looking around a regex match: the words just before and after it.

Rules decide between readings by a neighbouring word ("sáng 20/11" is a date, "1/2 số hộ" a
fraction); these helpers give that word, lower-cased, without scanning the whole text.
"""

from __future__ import annotations

import re

_WINDOW = 60  # characters looked at on each side; a word is far shorter
_LAST_WORD = re.compile(r"(\w+)[^\w]*$")
_FIRST_WORD = re.compile(r"[^\w]*(\w+)")


def previous_word(text: str, index: int) -> str:
    """The lower-cased word ending before ``index`` (punctuation skipped), or ""."""
    match = _LAST_WORD.search(text, max(0, index - _WINDOW), index)
    return match.group(1).lower() if match else ""


def next_word(text: str, index: int) -> str:
    """The lower-cased word starting after ``index`` (punctuation skipped), or ""."""
    match = _FIRST_WORD.match(text, index, index + _WINDOW)
    return match.group(1).lower() if match else ""


def text_before(text: str, index: int, length: int = _WINDOW) -> str:
    """Up to ``length`` characters before ``index``."""
    return text[max(0, index - length) : index]


def text_after(text: str, index: int, length: int = _WINDOW) -> str:
    """Up to ``length`` characters from ``index`` on."""
    return text[index : index + length]
