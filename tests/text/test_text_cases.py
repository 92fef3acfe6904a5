"""The case table: every written input must be spoken exactly as the table says."""

from __future__ import annotations

import unicodedata

import pytest
from text_cases import Case, lenient, load_cases

from broadcaster.text import Lexicon, normalize

CASES = load_cases()
REQUIRED_CATEGORIES = {
    "cardinal", "decimal", "percent", "range", "date", "weekday", "time", "ordinal", "unit",
    "money", "phone", "roman", "abbreviation", "symbol", "unicode", "mixed",
}


def test_table_covers_every_category_with_enough_cases() -> None:
    categories = {case.category for case in CASES}
    assert categories == REQUIRED_CATEGORIES
    assert len(CASES) >= 150
    assert len({case.text for case in CASES}) == len(CASES), "duplicate inputs"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(case: Case, lexicon: Lexicon) -> None:
    assert normalize(case.text, lexicon) == case.expected


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_decomposed_input_reads_the_same(case: Case, lexicon: Lexicon) -> None:
    decomposed = unicodedata.normalize("NFD", case.text)
    assert normalize(decomposed, lexicon) == normalize(case.text, lexicon)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_spoken_form_is_a_fixed_point(case: Case, lexicon: Lexicon) -> None:
    spoken = normalize(case.text, lexicon)
    assert normalize(spoken, lexicon) == spoken
    assert unicodedata.is_normalized("NFC", spoken)  # the audio cache keys on NFC text


def test_lenient_comparison_used_for_libraries() -> None:
    # The scoring helper must forgive only spelling variants, not wrong readings.
    assert lenient("Một trăm LẺ năm, ki-lô-mét!") == lenient("một trăm linh năm ki lô mét")
    assert lenient("hoà") == lenient("hòa")
    assert lenient("tháng bốn") != lenient("tháng tư")
