"""Roman numerals in context and ordinal words: "khóa XV", "lần thứ IV", "giải 1".

A Roman numeral is read only after a word that announces a number (``words.ROMAN_CONTEXT``):
"quý I", "thế kỷ XXI", "Đại hội XIII". Elsewhere "I", "V", "C" and "VI" (in "VI PHẠM") stay
letters. Roman numerals become digits here, so the ordinal and date rules that run next read
them like any number: "lần thứ IV" -> "lần thứ 4" -> "lần thứ tư".
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.cleaning import old_style_tones
from broadcaster.text.context import previous_word
from broadcaster.text.numbers import ordinal, rank

_ROMAN_TOKEN = re.compile(r"(?<![\w])([IVXLCDM]+)(?![\w])")
_VALID_ROMAN = re.compile(r"M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_ORDINAL = re.compile(r"(?i)\b(" + "|".join(words.ORDINAL_WORDS) + r")\s+(\d+)(?![\d/]|[.,]\d)")
_RANK = re.compile(r"(?i)\b(" + "|".join(words.RANK_WORDS) + r")\s+(\d)(?![\d/]|[.,]\d)")


def roman_value(numeral: str) -> int | None:
    """The value of a well-formed upper-case Roman numeral, or None."""
    if not numeral or not _VALID_ROMAN.fullmatch(numeral):
        return None
    total = 0
    for char, following in zip(numeral, [*numeral[1:], ""], strict=True):
        value = _ROMAN_VALUES[char]
        total += -value if following and _ROMAN_VALUES[following] > value else value
    return total


def read_roman_numerals(text: str) -> str:
    """Turn a Roman numeral after a context word into digits: "khóa XV" -> "khóa 15"."""

    def to_digits(match: re.Match[str]) -> str:
        value = roman_value(match.group(1))
        before = old_style_tones(previous_word(match.string, match.start()))
        return str(value) if value and before in words.ROMAN_CONTEXT else match.group(0)

    return _ROMAN_TOKEN.sub(to_digits, text)


def read_ordinals(text: str) -> str:
    """"thứ 1" -> "thứ nhất", "lần thứ 4" -> "lần thứ tư", "giải 2" -> "giải nhì"."""
    text = _ORDINAL.sub(lambda m: f"{m.group(1)} {ordinal(int(m.group(2)))}", text)

    def ranked(match: re.Match[str]) -> str:
        if previous_word(match.string, match.start()) in words.CATEGORY_BEFORE_RANK:
            return match.group(0)  # "quân nhân dự bị hạng 1" is category one, read as a number
        return f"{match.group(1)} {rank(int(match.group(2)))}"

    return _RANK.sub(ranked, text)
