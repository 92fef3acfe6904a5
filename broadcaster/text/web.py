"""Web addresses and e-mail addresses, read the way announcers dictate them.

"www.chinhphu.vn" = "vê kép vê kép vê kép chấm chính phủ chấm vê en",
"ubndxa@gmail.com" = "ubndxa a còng gờ meo chấm com". The scheme (https://) is not read.
Parts with a settled reading come from ``words.WEB_WORDS``; short unpronounceable parts are
spelled; other parts are left for the voice to read as written.
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.numbers import digits
from broadcaster.text.spelling import is_vietnamese_syllable, spell_letters

_TLDS = "vn|com|net|org|gov|edu|info|io|me|biz"
_HOST = rf"[\w-]+(?:\.[\w-]+)*\.(?:{_TLDS})(?![\w-])"
# "đuôi @thaibinh.gov.vn": a mail domain may be written without the name before "@".
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]*@[\w-]+(?:\.[\w-]+)+")
# "đường link có đuôi lạ như .xyz, .top": a bare domain ending after a space.
_SUFFIX = re.compile(r"(?<!\S)\.([a-zA-Z]{2,6})(?!\w|\.\w)")
_URL = re.compile(rf"(?<![\w@/.-])(?:https?://\S+|(?:www\.)?{_HOST}(?:/\S*)?)", re.IGNORECASE)
_SCHEME = re.compile(r"^https?://", re.IGNORECASE)
_TRAILING = re.compile(r"[.,;:!?)\]'\"]+$")
_PIECES = re.compile(r"[^\W\d_]+|\d+|.", re.DOTALL)
_MAX_SPELLED = 3  # "p", "tw" are spelled; "home", "ubndxa" are left for the voice
_VOWEL = re.compile("[aeiouy]")


def _spoken_piece(piece: str) -> str:
    lower = piece.lower()
    if lower in words.WEB_WORDS:
        return words.WEB_WORDS[lower]
    if piece in words.WEB_SEPARATORS:
        return words.WEB_SEPARATORS[piece]
    if piece.isdecimal():
        return digits(piece)
    if piece.isalpha():
        if not _VOWEL.search(lower) or (len(piece) <= _MAX_SPELLED and not is_vietnamese_syllable(piece)):
            return spell_letters(piece)
        return lower
    return " "  # "?", "=", "#": nothing a listener needs


def spoken_address(address: str) -> str:
    """Read one URL or e-mail address piece by piece."""
    address = _SCHEME.sub("", address).rstrip("/")
    return " ".join(_spoken_piece(piece) for piece in _PIECES.findall(address)).strip()


def _replace(match: re.Match[str]) -> str:
    address = match.group(0)
    trailing = _TRAILING.search(address)
    tail = trailing.group(0) if trailing else ""
    return spoken_address(address[: len(address) - len(tail)]) + tail


def read_web_addresses(text: str) -> str:
    """E-mail addresses first (they contain domains), then web addresses."""
    text = _URL.sub(_replace, _EMAIL.sub(_replace, text))
    return _SUFFIX.sub(lambda m: spoken_address(m.group(0)), text)
