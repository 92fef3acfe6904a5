"""An abbreviation in brackets that only restates the words before it is not read twice.

Offices write the full name once with its abbreviation: "bệnh Dịch tả lợn châu Phi (DTLCP)",
"Ủy ban nhân dân (UBND)". An announcer reads the name once; expanding the brackets as well
would say "dịch tả lợn châu Phi, dịch tả lợn châu Phi". The brackets are dropped only when the
abbreviation's reading (from the lexicon or one of its senses) equals the words just before.
"""

from __future__ import annotations

import re

from broadcaster.text.lexicon import Lexicon
from broadcaster.text.senses import SENSES

_BRACKETED = re.compile(r"\s*\(\s*([^\W\d_][\w&/.-]*)\s*\)")
_WORD = re.compile(r"[^\W_]+")


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def drop_restated_abbreviations(text: str, lexicon: Lexicon) -> str:
    """"Dịch tả lợn châu Phi (DTLCP) đã..." -> "Dịch tả lợn châu Phi đã..."."""

    def drop(match: re.Match[str]) -> str:
        written = match.group(1)
        readings = [lexicon.spoken(written), *(sense.spoken for sense in SENSES.get(written, ()))]
        before = _words(match.string[max(0, match.start() - 160) : match.start()])
        for reading in filter(None, readings):
            spoken = _words(reading)
            if spoken and before[-len(spoken) :] == spoken:
                return ""
        return match.group(0)

    return _BRACKETED.sub(drop, text)
