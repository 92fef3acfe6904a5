"""House and lane numbers: "số 12/3", "ngõ 5/2", "hẻm 123/45/6", "tổ 3/4".

After an address word the slash joins a house to its lane, so "số 12/3" is "số mười hai trên
ba", never the twelfth of March. The word before decides: "ngày 12/3" stays a date for the date
rules, and so does "đường 3/2", a street named after a date (read "đường ba tháng hai").
A four-digit part is a year ("số 15/2025" is a document number) and is left to the date rules.
"""

from __future__ import annotations

import re

from broadcaster.text import words

_WORDS = "|".join(sorted(map(re.escape, words.ADDRESS_WORDS), key=len, reverse=True))
_HOUSE_NUMBER = re.compile(
    rf"(?i)(?<!\w)({_WORDS})(\s+)(\d{{1,4}}[A-Z]?)((?:/\d{{1,3}}[A-Z]?)+)(?![\w/]|[.,]\d)"
)


def read_house_numbers(text: str) -> str:
    """"số 12/3" -> "số 12 trên 3", "ngõ 5/2A" -> "ngõ 5 trên 2A"; the number rules read the digits."""

    def spoken(match: re.Match[str]) -> str:
        parts = match.group(4).split("/")[1:]
        joined = f" {words.ADDRESS_SLASH} ".join([match.group(3), *parts])
        return f"{match.group(1)}{match.group(2)}{joined}"

    return _HOUSE_NUMBER.sub(spoken, text)
