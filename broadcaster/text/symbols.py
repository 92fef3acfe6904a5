"""Last rules: symbols said as words, stray symbols dropped, punctuation tidied.

By now numbers, units and addresses are words, so what is left of "&", "/", "-", brackets and
quotes is decoration or a pause. Sentence punctuation (. , ; : ! ?) is kept: the voices pause
on it.
"""

from __future__ import annotations

import re

from broadcaster.text import words

_SPOKEN = re.compile("|".join(re.escape(symbol) for symbol in words.SPOKEN_SYMBOLS))
_SLASH = re.compile(r"\s*/\s*")
_BRACKETS = re.compile(r"[()\[\]{}]")
_DASH_PAUSE = re.compile(r"(?:^|(?<=\s))-+(?=\s|$)|(?<=[,.;:!?])-+|-+(?=[,.;:!?])")
_STRAY_HYPHEN = re.compile(r"(?<![^\W\d_])-|-(?![^\W\d_])")
_STRAY = re.compile(r"[\"'`*#~^|_=<>\\+$]")
_REPEATED = re.compile(r"([!?,;:])\1+|\.{4,}")
_SPACE_BEFORE = re.compile(r"\s+([,.;:!?])")
_SPACE_AFTER = re.compile(r"([,;:!?]|\.(?!\.))(?=[^\W\d_])")
_WEAK_BEFORE_STRONG = re.compile(r"[,;:](?:\s*[,;:])*\s*(?=[.!?,;:])")
_LEADING = re.compile(r"^[\s,.;:!?]+")
_TRAILING_COMMA = re.compile(r"[\s,]+$")
_WHITESPACE = re.compile(r"\s+")


def speak_symbols(text: str) -> str:
    """"&" -> "và", "@" -> "a còng"; "/" between words, brackets, " - " become pauses or spaces."""
    text = _SPOKEN.sub(lambda m: f" {words.SPOKEN_SYMBOLS[m.group(0)]} ", text)
    text = _SLASH.sub(" ", text)
    text = _BRACKETS.sub(" , ", text)
    text = _DASH_PAUSE.sub(" , ", text)
    text = _STRAY_HYPHEN.sub(" ", text)  # a hyphen not between two letters joins nothing
    return _STRAY.sub(" ", text)


def tidy_punctuation(text: str) -> str:
    """One space between words, punctuation glued to the word before it, no doubled marks."""
    text = _REPEATED.sub(lambda m: m.group(1) or "...", text)
    text = _SPACE_BEFORE.sub(r"\1", text)
    text = _WEAK_BEFORE_STRONG.sub("", text)
    text = _SPACE_AFTER.sub(r"\1 ", text)
    text = _WHITESPACE.sub(" ", text)
    return _TRAILING_COMMA.sub("", _LEADING.sub("", text))
