"""Official document numbers and hyphenated codes: "100/2019/NĐ-CP", "123/QĐ-UBND".

Announcers read "Nghị định 100/2019/NĐ-CP" as "một trăm năm hai nghìn không trăm mười chín
nghị định chính phủ": the year slash becomes "năm", the code slash a pause. Codes made of
abbreviations joined by hyphens are split so each part meets the lexicon (QĐ-UBND ->
"quyết định ủy ban nhân dân"), unless the whole code is itself a lexicon entry (NĐ-CP).
"""

from __future__ import annotations

import re

from broadcaster.text.lexicon import Lexicon

_NUMBER_YEAR_CODE = re.compile(r"(?<![\w/.,])(\d+)/(\d{4})/(?=[A-ZĐ])")
_NUMBER_CODE = re.compile(r"(?<![\w/.,])(\d+)/(?=[A-ZĐ][A-ZĐa-z]*[A-ZĐ-])")
_CODE_CLUSTER = re.compile(r"(?<![\w-])[A-ZĐ][A-ZĐa-z&]*(?:-[A-ZĐ][A-ZĐa-z&]*)+(?![\w-])")


def read_document_numbers(text: str) -> str:
    """"100/2019/NĐ-CP" -> "100 năm 2019 NĐ-CP"; "123/QĐ-UBND" -> "123 QĐ-UBND"."""
    text = _NUMBER_YEAR_CODE.sub(r"\1 năm \2 ", text)
    return _NUMBER_CODE.sub(r"\1 ", text)


def split_code_clusters(text: str, lexicon: Lexicon) -> str:
    """Split "QĐ-UBND" into "QĐ UBND" unless the whole code is in the lexicon."""
    return _CODE_CLUSTER.sub(lambda m: m.group(0) if m.group(0) in lexicon else m.group(0).replace("-", " "), text)
