"""Loader for ``cases.tsv``: the table of written input -> expected spoken form.

Shared by the parametrized tests and by ``compare_normalizers.py``, which scores third-party
normalizers on the same table.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

CASES_PATH = Path(__file__).with_name("cases.tsv")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\n")


@dataclass(frozen=True)
class Case:
    """One row of the table."""

    line: int
    category: str
    text: str
    expected: str
    alternatives: tuple[str, ...]

    @property
    def id(self) -> str:
        """A short pytest id: category and line number."""
        return f"{self.category}-L{self.line}"


def _unescape(value: str) -> str:
    # Escapes keep invisible and decomposed characters reviewable in the TSV.
    return _ESCAPE.sub(lambda m: "\n" if m.group(0) == "\\n" else chr(int(m.group(1), 16)), value)


def load_cases(path: Path = CASES_PATH) -> list[Case]:
    """Every case of the table, in file order."""
    cases: list[Case] = []
    header_seen = False
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if not header_seen:
            header_seen = True  # the column names
            continue
        fields = raw.split("\t")
        if len(fields) not in (3, 4):
            raise ValueError(f"{path.name}:{number}: expected 3 or 4 tab-separated fields, got {len(fields)}")
        alternatives = tuple(a.strip() for a in fields[3].split("|")) if len(fields) == 4 else ()
        cases.append(Case(number, fields[0], _unescape(fields[1]), fields[2], alternatives))
    return cases


_VARIANTS = {"lẻ": "linh", "ngàn": "nghìn", "tỉ": "tỷ", "kí": "ký"}
_OLD_STYLE = {  # new-style tone placement -> the old style we use (hoà -> hòa)
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}


def lenient(text: str) -> str:
    """Canonical form for scoring other normalizers: case, punctuation, hyphens and variants ignored."""
    text = unicodedata.normalize("NFC", text).lower()
    for new, old in _OLD_STYLE.items():
        text = re.sub(rf"(?<!q){new}(?!\w)", old, text)
    text = re.sub(r"[^\w\s]|_", " ", text)
    words = [_VARIANTS.get(word, word) for word in text.split()]
    return " ".join(words)


def lenient_match(case: Case, output: str) -> bool:
    """Whether ``output`` is an acceptable reading of ``case`` under the lenient comparison."""
    got = lenient(output)
    return any(got == lenient(candidate) for candidate in (case.expected, *case.alternatives))
