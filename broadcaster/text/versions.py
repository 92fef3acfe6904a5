"""Version numbers and technology names: "phiên bản 2.1.3", "Công nghiệp 4.0", "4G", "v.v.".

A dot inside a version is "chấm" (hai chấm một chấm ba): read as a decimal ("hai phẩy một")
it would name a different number. Three or more dotted parts that are not thousands groups
(1.234.567) nor a date (15.12.2026) are a version; two parts are a version after a word such
as "phiên bản", "iOS" or "VNeID", and "4.0", "2.0" are always one (decimals use a comma).
Mobile generations "4G", "5G" are "bốn giê", "năm giê". "v.v." is "vân vân", and its last dot
ends the sentence only when a sentence really ends there.
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.context import previous_word
from broadcaster.text.numbers import cardinal, digits

_DOTTED = re.compile(r"(?<![\w.,])(\d+(?:\.\d+){1,3})(?![\w]|[.,]\d)")
_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+")
_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.\d{4}")
_POINT_ZERO = re.compile(r"\d\.0")
_GENERATION = re.compile(r"(?<![\w.,])([2-6])G(?![\w])")
_ETC = re.compile(r"(?<!\w)v\.\s?v(?:\.{1,3}|(?!\w))(\s*)(?=(.?))")


def _version(match: re.Match[str]) -> str:
    written = match.group(1)
    parts = written.split(".")
    if _THOUSANDS.fullmatch(written) or _DATE.fullmatch(written):
        return written
    versioned = (
        len(parts) >= 3
        or _POINT_ZERO.fullmatch(written) is not None
        or previous_word(match.string, match.start()) in words.VERSION_CONTEXT
    )
    if not versioned:
        return written
    return f" {words.VERSION_DOT} ".join(_part(part) for part in parts)


def _part(part: str) -> str:
    # "2.01" = hai chấm không một: a leading zero is said, as in codes.
    return digits(part) if len(part) > 1 and part.startswith("0") else cardinal(int(part))


def read_versions(text: str) -> str:
    """"phiên bản 2.1.3" -> "phiên bản hai chấm một chấm ba", "4.0" -> "bốn chấm không"."""
    return _DOTTED.sub(_version, text)


def read_mobile_generations(text: str) -> str:
    """"4G" -> "bốn giê", "5G" -> "năm giê"."""
    return _GENERATION.sub(lambda m: f"{cardinal(int(m.group(1)))} {words.GENERATION_LETTER}", text)


def read_etc(text: str) -> str:
    """"v.v." -> "vân vân"; the dot stays only where a sentence ends (end of text or a capital next)."""

    def spoken(match: re.Match[str]) -> str:
        following = match.group(2)
        ends = match.group(0).rstrip().endswith(".") and (not following or following.isupper())
        return f"{words.ETC}.{match.group(1)}" if ends else f"{words.ETC}{match.group(1)}"

    return _ETC.sub(spoken, text)
