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
CORPUS_DIR = Path(__file__).with_name("corpus")
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


def load_corpus(directory: Path = CORPUS_DIR) -> list[Case]:
    """The corpus of full sentences, one file per office; the category is the file name."""
    cases: list[Case] = []
    for path in sorted(directory.glob("*.tsv")):
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip() or raw.startswith("#"):
                continue
            fields = raw.split("\t")
            if len(fields) not in (2, 3):
                raise ValueError(f"{path.name}:{number}: expected 2 or 3 tab-separated fields, got {len(fields)}")
            alternatives = tuple(a.strip() for a in fields[2].split("|")) if len(fields) == 3 else ()
            cases.append(Case(number, path.stem, fields[0], fields[1], alternatives))
    return cases


# Choices where another reading is as right as ours; third-party normalizers are not marked down
# for taking the other one (a rate's slash as "trên" or "một", a document number's zero unsaid,
# no "ngày" after a time-of-day word).
_CONVENTIONS = (
    (re.compile(r"\bmỗi\b"), ("trên", "một")),
    (re.compile(r"\b(số) không (\w+)"), (r"\1 \2",)),
    (re.compile(r"\b(sáng|chiều|tối|trưa|đêm) ngày\b"), (r"\1",)),
)


def convention_variants(expected: str) -> set[str]:
    """``expected`` and the readings that differ from it only by a convention choice."""
    variants = {expected}
    for pattern, replacements in _CONVENTIONS:
        variants |= {pattern.sub(replacement, variant) for variant in variants for replacement in replacements}
    return variants


_VARIANTS = {"lẻ": "linh", "ngàn": "nghìn", "tỉ": "tỷ", "kí": "ký"}
_OLD_STYLE = {  # new-style tone placement -> the old style we use (hoà -> hòa)
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}


def _loan_words() -> list[tuple[str, str]]:
    """Our respellings of loan words ("ca mê ra") and the written word ("camera"): either is fine for a voice."""
    from broadcaster.text.lexicon import builtin_lexicon

    pairs = [(" ".join(re.sub(r"[^\w\s]|_", " ", spoken).split()), written.replace("-", ""))
             for written, spoken in builtin_lexicon().entries.items() if written == written.lower()]
    return sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)


_LOANS: list[tuple[str, str]] = []


def lenient(text: str) -> str:
    """Canonical form for scoring other normalizers: case, punctuation, hyphens, variants and loan-word spelling ignored."""
    text = unicodedata.normalize("NFC", text).lower()
    for new, old in _OLD_STYLE.items():
        text = re.sub(rf"(?<!q){new}(?!\w)", old, text)
    text = re.sub(r"[^\w\s]|_", " ", text)
    words = " ".join(_VARIANTS.get(word, word) for word in text.split())
    words = words.replace(" giờ không phút", " giờ")  # "7h00": saying the zero minutes is robotic, not wrong
    if not _LOANS:
        _LOANS.extend(_loan_words())
    for spoken, written in _LOANS:
        words = re.sub(rf"(?<!\w){re.escape(spoken)}(?!\w)", written, words)
    return words


def lenient_match(case: Case, output: str) -> bool:
    """Whether ``output`` is an acceptable reading of ``case`` under the lenient comparison."""
    got = lenient(output)
    candidates = {variant for reading in (case.expected, *case.alternatives) for variant in convention_variants(reading)}
    return any(got == lenient(candidate) for candidate in candidates)
