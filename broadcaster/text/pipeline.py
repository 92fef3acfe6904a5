"""The ordered list of rules that turns written Vietnamese into what an announcer says.

Each rule is a plain ``str -> str`` function (gTTS's tokenizer design); lexicon-dependent rules
are bound to a :class:`Lexicon`. The order is the design: addresses, plates, road codes and
phone numbers are read before anything splits them at dots or slashes; document codes before
the senses of ambiguous abbreviations and the lexicon; abbreviations before spelling; Roman
numerals before the dates and ordinals that read their digits; ranges before rates and units;
plain numbers last. A step marked ``guess`` rests on a guess the officer should check (letters
spelled one by one, a slash read as a date): the compose and approval pages highlight it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

from broadcaster.text import (
    addresses,
    cleaning,
    dates,
    documents,
    ordinals,
    phones,
    quantities,
    restatements,
    roads,
    senses,
    spelling,
    symbols,
    times,
    versions,
    web,
)
from broadcaster.text.lexicon import Lexicon, load_lexicon

Rule = Callable[[str], str]

SPELLED = "đánh vần từng chữ cái"
CODE = "đọc từng ký tự của mã"
SLASH_DATE = "đoán dấu gạch chéo là ngày tháng, phân số hoặc tỉ lệ"
HOLIDAY = "đoán số có gạch nối sau tên ngày lễ là ngày tháng"
SLASH_RATIO = "đoán dấu gạch chéo giữa hai số là tỉ lệ"


@dataclass(frozen=True)
class Step:
    """One rule of the pipeline, its name for ``--explain``, and what it guesses (if anything)."""

    name: str
    rule: Rule
    guess: str | None = None


def _step(rule: Rule, guess: str | None = None, name: str | None = None) -> Step:
    module = getattr(rule, "__module__", "").rsplit(".", 1)[-1]
    return Step(name or f"{module}.{rule.__name__}", rule, guess)


@lru_cache(maxsize=32)  # lexicons are immutable and hash by identity: one list per lexicon
def _steps(lexicon: Lexicon) -> tuple[Step, ...]:
    return (
        _step(cleaning.canonicalize_unicode),
        _step(cleaning.drop_decorations),
        _step(cleaning.join_lines),
        _step(versions.read_etc),
        _step(web.read_web_addresses),
        _step(roads.read_number_plates),
        _step(roads.read_road_codes),
        _step(roads.read_kilometre_markers),
        _step(phones.read_account_numbers),
        _step(phones.read_phone_numbers),
        _step(versions.read_versions),
        _step(addresses.read_house_numbers),
        _step(documents.read_document_numbers),
        _step(quantities.read_rates),
        _step(senses.read_by_neighbours),
        _step(quantities.pause_after_alarm_levels),
        _step(partial(restatements.drop_restated_abbreviations, lexicon=lexicon),
              name="restatements.drop_restated_abbreviations"),
        _step(dates.expand_weekday_abbreviations),
        _step(partial(documents.split_code_clusters, lexicon=lexicon), name="documents.split_code_clusters"),
        _step(lexicon.expand, name="lexicon.expand"),
        _step(ordinals.read_roman_numerals),
        _step(versions.read_mobile_generations),
        _step(spelling.read_alphanumeric_codes, CODE),
        _step(spelling.spell_unknown_acronyms, SPELLED),
        _step(dates.read_date_to_date),
        _step(dates.read_hyphen_day_months),
        _step(dates.guess_holiday_dates, HOLIDAY),
        _step(dates.read_date_ranges),
        _step(dates.read_quarter_years),
        _step(dates.read_month_years),
        _step(dates.read_full_dates),
        _step(dates.read_day_months),
        _step(dates.guess_day_months, SLASH_DATE),
        _step(times.read_times),
        _step(ordinals.read_ordinals),
        _step(dates.read_month_names),
        _step(quantities.unglue_hyphenated_numbers),
        _step(quantities.read_ranges),
        _step(quantities.read_money),
        _step(quantities.read_units),
        _step(quantities.read_ratios, SLASH_RATIO),
        _step(quantities.read_dimensions),
        _step(quantities.read_comparisons),
        _step(quantities.read_numbers),
        _step(symbols.speak_symbols),
        _step(symbols.tidy_punctuation),
    )


def steps_for(lexicon: Lexicon) -> list[Step]:
    """The full rule list, in order, with the lexicon rules bound to ``lexicon``."""
    return list(_steps(lexicon))


def rules_for(lexicon: Lexicon) -> list[Rule]:
    """The rules of :func:`steps_for`, as plain functions."""
    return [step.rule for step in steps_for(lexicon)]


def normalize(text: str, lexicon: Lexicon | None = None) -> str:
    """The spoken form of ``text``, on one line with single spaces; never raises on any string."""
    for step in _steps(lexicon if lexicon is not None else load_lexicon()):
        text = step.rule(text)
    return text
