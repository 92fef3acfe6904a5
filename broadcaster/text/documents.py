"""Official document numbers and hyphenated codes: "100/2019/NĐ-CP", "123/QĐ-UBND", "57-NQ/TW".

Announcers read "Nghị định 100/2019/NĐ-CP" as "một trăm năm hai nghìn không trăm mười chín
nghị định chính phủ": the year slash becomes "năm", the code slash a pause. In the code after a
number the position decides what an ambiguous part means (Nghị định 30/2020/NĐ-CP): the first
part is the type of document ("05-CT/TU" = chỉ thị, "12/CĐ-TTg" = công điện), the later parts
the issuer ("TT-BCT" = Bộ Công Thương, "TT-BTC" = Bộ Tài chính). Codes made of abbreviations
joined by hyphens elsewhere are split so each part meets the lexicon (KT-XH stays whole if it
is itself a lexicon entry).
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.lexicon import Lexicon

_PART = r"[A-ZĐ][A-ZĐa-zđ&]*\d*"
_CODE = rf"{_PART}(?:[-/]{_PART})*"
_NUMBER_YEAR_CODE = re.compile(rf"(?<![\w/.,])(\d+)/(\d{{4}})/({_CODE})(?![\w-])")
_NUMBER_CODE = re.compile(rf"(?<![\w/.,])(\d+)/({_CODE})(?![\w-])")
_PARTY_CODE = re.compile(rf"(?<![\w/.,-])(\d+)-({_PART})/({_PART}(?:-{_PART})*)(?![\w-])")
_SEPARATOR = re.compile(r"[-/]")
_CODE_CLUSTER = re.compile(r"(?<![\w-])[A-ZĐ][A-ZĐa-z&]*(?:-[A-ZĐ][A-ZĐa-z&]*)+(?![\w-])")


def _spoken_code(code: str) -> str:
    first, *rest = _SEPARATOR.split(code)
    parts = [words.DOCUMENT_TYPES.get(first) or words.ISSUERS.get(first) or first]
    parts += [words.ISSUERS.get(part) or part for part in rest]
    return " ".join(parts)


def read_document_numbers(text: str) -> str:
    """"100/2019/NĐ-CP" -> "100 năm 2019 nghị định chính phủ"; "05-CT/TU" -> "05 chỉ thị tỉnh ủy"."""
    text = _NUMBER_YEAR_CODE.sub(lambda m: f"{m.group(1)} năm {m.group(2)} {_spoken_code(m.group(3))}", text)
    text = _NUMBER_CODE.sub(lambda m: f"{m.group(1)} {_spoken_code(m.group(2))}", text)
    return _PARTY_CODE.sub(lambda m: f"{m.group(1)} {_spoken_code(m.group(2) + '/' + m.group(3))}", text)


def split_code_clusters(text: str, lexicon: Lexicon) -> str:
    """Split "QĐ-UBND" into "QĐ UBND" unless the whole code is in the lexicon."""
    return _CODE_CLUSTER.sub(lambda m: m.group(0) if m.group(0) in lexicon else m.group(0).replace("-", " "), text)
