"""First rules of the pipeline: one Unicode form, no decorations, one line.

After these, every later rule can assume NFC text, the old-style tone placement
(hòa, khỏe, thủy), ASCII hyphens and spaces, no emoji or bullets, and no line breaks.
"""

from __future__ import annotations

import re
import unicodedata

# Invisible characters that only split words (zero-width space/joiners, BOM, soft hyphen).
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\ufe0e\ufe0f\u20e3]")
_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\v\f]")
_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d]")
_REPLACEMENTS = {
    "\u2103": "°C",  # ℃
    "\u00ba": "°",  # masculine ordinal, often typed for a degree: 25ºC
    "\u02da": "°",
    "\u2018": "'", "\u2019": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u00ab": '"', "\u00bb": '"', "\u201e": '"',
    "\u2026": "...",
    "\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n",
}
_REPLACE = re.compile("|".join(re.escape(key) for key in sorted(_REPLACEMENTS, key=len, reverse=True)))

# New-style tone placement (hoà, khoẻ, thuỷ) -> old style (hòa, khỏe, thủy) in open syllables,
# so "Hoà Bình" and "Hòa Bình" meet the same lexicon entry. "quý" is left alone: after q the
# u is part of the onset. A following letter (hoàn, khuỷu) means the mark is already right.
_TONE_PLACEMENT = re.compile(
    r"(?<![qQ])(?:([oO])([àáảãạÀÁẢÃẠèéẻẽẹÈÉẺẼẸ])|([uU])([ỳýỷỹỵỲÝỶỸỴ]))(?![^\W\d_])"
)
_KEEP_SYMBOLS = frozenset("°©")  # category So, but meaningful ("25°C") or harmless
_BULLETS = frozenset("•‣◦∙·※→←↑↓↔⇒⇐⇨➔➜➝➞✓✔✗✘")
_LEADING_BULLET = re.compile(r"^[ ]*(?:[-+*>]+|\d+\))[ ]+", re.MULTILINE)
_SENTENCE_END = re.compile(r"[.!?:;,]$")


def _move_tone(match: re.Match[str]) -> str:
    first, second = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    base, tone = unicodedata.normalize("NFD", second)[0], unicodedata.normalize("NFD", second)[1:]
    return unicodedata.normalize("NFC", first + tone) + base


def old_style_tones(text: str) -> str:
    """Put tone marks on the first vowel of open oa/oe/uy syllables: hoà -> hòa, thuỷ -> thủy."""
    return _TONE_PLACEMENT.sub(_move_tone, text)


def canonicalize_unicode(text: str) -> str:
    """NFC, one tone-mark style, plain spaces, ASCII hyphens and quotes, no invisible characters."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _REPLACE.sub(lambda match: _REPLACEMENTS[match.group(0)], text)
    text = _SPACES.sub(" ", text)
    text = _DASHES.sub("-", text)
    return old_style_tones(text)


def _is_decoration(char: str) -> bool:
    if char in _BULLETS:
        return True
    category = unicodedata.category(char)
    # So = emoji and pictographs, Co = private use, Cn = unassigned, Cs = lone surrogates,
    # Cc = control characters (line breaks were unified before and are kept).
    if category == "Cc":
        return char != "\n"
    return category in {"So", "Co", "Cn", "Cs", "Sk"} and char not in _KEEP_SYMBOLS


def drop_decorations(text: str) -> str:
    """Remove emoji, pictographs, bullet characters and list markers at line starts."""
    text = "".join(" " if _is_decoration(char) else char for char in text)
    return _LEADING_BULLET.sub("", text)


def join_lines(text: str) -> str:
    """One line: a line break ends a sentence, so lines without end punctuation get a period."""
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    joined = [line if _SENTENCE_END.search(line) else f"{line}." for line in lines[:-1]]
    return " ".join([*joined, *lines[-1:]])
