"""The ordered list of rules that turns written Vietnamese into what an announcer says.

Each rule is a plain ``str -> str`` function (gTTS's tokenizer design); lexicon-dependent rules
are bound to a :class:`Lexicon`. The order is the design: addresses and phone numbers are read
before anything splits them at dots; abbreviations before spelling; Roman numerals before the
dates and ordinals that read their digits; ranges before units; plain numbers last. Numbers too
long to read as numbers are spelled digit by digit first, so no later rule sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from broadcaster.text import (
    cleaning,
    dates,
    digit_runs,
    documents,
    ordinals,
    phones,
    quantities,
    spelling,
    symbols,
    times,
    web,
)
from broadcaster.text.lexicon import Lexicon, load_lexicon

Rule = Callable[[str], str]


def rules_for(lexicon: Lexicon) -> list[Rule]:
    """The full rule list, in order, with the lexicon rules bound to ``lexicon``."""
    return [
        cleaning.canonicalize_unicode,
        cleaning.drop_decorations,
        cleaning.join_lines,
        digit_runs.read_long_digit_runs,
        web.read_web_addresses,
        phones.read_phone_numbers,
        documents.read_document_numbers,
        dates.expand_weekday_abbreviations,
        partial(documents.split_code_clusters, lexicon=lexicon),
        lexicon.expand,
        ordinals.read_roman_numerals,
        spelling.read_alphanumeric_codes,
        spelling.spell_unknown_acronyms,
        dates.read_date_to_date,
        dates.read_hyphen_day_months,
        dates.read_date_ranges,
        dates.read_quarter_years,
        dates.read_month_years,
        dates.read_full_dates,
        dates.read_day_months,
        times.read_times,
        ordinals.read_ordinals,
        dates.read_month_names,
        quantities.unglue_hyphenated_numbers,
        quantities.read_ranges,
        quantities.read_money,
        quantities.read_units,
        quantities.read_ratios,
        quantities.read_comparisons,
        quantities.read_numbers,
        symbols.speak_symbols,
        symbols.tidy_punctuation,
    ]


def normalize(text: str, lexicon: Lexicon | None = None) -> str:
    """The spoken form of ``text``, on one line with single spaces; never raises on any string."""
    for rule in rules_for(lexicon if lexicon is not None else load_lexicon()):
        text = rule(text)
    return text
