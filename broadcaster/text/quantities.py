"""Numbers with what they count: ranges, money, units, percentages, and plain numbers.

Order matters and is kept by the pipeline: ranges first ("30-35°C" -> "30 đến 35°C"), then
money and units, which read their own number, and last every number still written in digits.
Units are read only after a number, so "ha ha" and "m" in a name stay as written.
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.numbers import NUMBER, read_number

_NUM = NUMBER
_SIGNED = rf"(?:(?<![\w.,)-])(-))?(?<![\w.,])({_NUM})"
_GLUED_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=\d)")
_RANGE = re.compile(rf"(?<![\w.,/-])({_NUM})\s*-\s*({_NUM})(?!\d|[.,]\d)")


def _alternation(keys: list[str]) -> str:
    return "|".join(re.escape(key) for key in sorted(keys, key=len, reverse=True))


_UNIT_KEYS = [key for key in words.UNITS if key not in ("°C", "độ C", "°")]
_TEMPERATURE = re.compile(rf"{_SIGNED}\s*(?:°\s*C|độ\s+C)(?![^\W\d_])")
_DEGREES = re.compile(rf"{_SIGNED}\s*°")
_UNIT = re.compile(
    rf"{_SIGNED}\s*({_alternation(_UNIT_KEYS)})(?:/(\d+)?\s*({_alternation(list(words.PER_UNITS))}))?(?![^\W\d_]|[²³])"
)
_DONG = re.compile(rf"{_SIGNED}\s*({_alternation(list(words.DONG_SYMBOLS))})(?![^\W\d_])")
_PER_THING = re.compile(rf"\b({_alternation(list(words.MONEY_WORDS))})((?:/[^\W_]+)+)")
_PER_PART = re.compile(r"/([^\W_]+)")
_DOLLAR_BEFORE = re.compile(rf"\$\s*({_NUM})")
_DOLLAR_AFTER = re.compile(rf"(?<![\w.,])({_NUM})\s*(?:\$|(?:{_alternation(list(words.DOLLAR_SYMBOLS))})(?!\w))")
_THOUSANDS_K = re.compile(rf"(?<![\w.,])({_NUM})\s?{words.THOUSAND_SUFFIX}(?![^\W\d_])")
_PLAIN = re.compile(_SIGNED)
_GLUED_NUMBER = re.compile(_NUM)
_RATIO = re.compile(rf"(?<![\w.,/])({_NUM})/({_NUM})(?![\w/]|[.,]\d)")
_PLUS_BETWEEN_NUMBERS = re.compile(r"(?<=\d)\s*\+\s*(?=\d)")
_COMPARISON = re.compile(rf"({_alternation(list(words.COMPARISONS))})\s*(?=-?\d)")
_WORD_AFTER = re.compile(r"[^\W_]")
_DOT_DECIMAL = re.compile(r"\d+\.\d{1,2}")


def _value(written: str) -> float:
    if _DOT_DECIMAL.fullmatch(written):
        return float(written)
    return float(written.replace(".", "").replace(",", "."))


def _signed(sign: str | None, written: str) -> str:
    spoken = read_number(written)
    return f"{words.NEGATIVE} {spoken}" if sign else spoken


def unglue_hyphenated_numbers(text: str) -> str:
    """"COVID-19" -> "COVID 19": a hyphen between a word and a number is not a minus."""
    return _GLUED_HYPHEN.sub(" ", text)


def read_ranges(text: str) -> str:
    """"5-7" -> "5 đến 7"; a falling pair such as a score "3-1" is read "3 1"."""

    def spoken(match: re.Match[str]) -> str:
        first, last = match.group(1), match.group(2)
        joiner = f" {words.RANGE} " if _value(first) <= _value(last) else " "
        return f"{first}{joiner}{last}"

    return _RANGE.sub(spoken, text)


def read_money(text: str) -> str:
    """"50.000đ", "100.000 VNĐ", "35.000đ/kg", "$100", "50k"."""

    def dong(match: re.Match[str]) -> str:
        return f"{_signed(match.group(1), match.group(2))} {words.DONG}"

    def per_thing(match: re.Match[str]) -> str:
        things = _PER_PART.findall(match.group(2))
        spoken = (words.UNITS.get(thing) or words.PER_UNITS.get(thing) or thing for thing in things)
        return match.group(1) + "".join(f" {words.PRICE_PER} {thing}" for thing in spoken)

    text = _DONG.sub(dong, text)
    text = _THOUSANDS_K.sub(lambda m: f"{read_number(m.group(1))} {words.THOUSAND}", text)
    text = _DOLLAR_BEFORE.sub(lambda m: f"{read_number(m.group(1))} {words.DOLLAR}", text)
    text = _DOLLAR_AFTER.sub(lambda m: f"{read_number(m.group(1))} {words.DOLLAR}", text)
    return _PER_THING.sub(per_thing, text)


def read_units(text: str) -> str:
    """Measures after a number: "25°C", "5 km", "200 m²", "60 km/h", "15%"."""

    def unit(match: re.Match[str]) -> str:
        spoken = f"{_signed(match.group(1), match.group(2))} {words.UNITS[match.group(3)]}"
        count, per = match.group(4), match.group(5)
        if count:  # "mm/24h": so much within 24 hours
            return f"{spoken} {words.WITHIN} {read_number(count)} {words.PER_UNITS[per]}"
        return f"{spoken} {words.PER} {words.PER_UNITS[per]}" if per else spoken

    text = _TEMPERATURE.sub(lambda m: f"{_signed(m.group(1), m.group(2))} {words.UNITS['°C']}", text)
    text = _DEGREES.sub(lambda m: f"{_signed(m.group(1), m.group(2))} {words.UNITS['°']}", text)
    return _UNIT.sub(unit, text)


def read_ratios(text: str) -> str:
    """A slash between numbers that is not a date: "1234/5678" -> "1234 trên 5678"."""
    return _RATIO.sub(rf"\1 {words.PER} \2", text)


def read_comparisons(text: str) -> str:
    """">60 tuổi" -> "trên 60 tuổi", "≤ 5" -> "không quá 5", "Km 15+500" -> "15 cộng 500"."""
    text = _PLUS_BETWEEN_NUMBERS.sub(f" {words.PHONE_PLUS} ", text)
    return _COMPARISON.sub(lambda m: f" {words.COMPARISONS[m.group(1)]} ", text)


def read_numbers(text: str) -> str:
    """Every number still in digits: "1.005" -> "một nghìn không trăm linh năm", "-5" -> "âm năm"."""

    def spoken(match: re.Match[str]) -> str:
        words_ = _signed(match.group(1), match.group(2))
        following = match.string[match.end() : match.end() + 1]
        return f"{words_} " if _WORD_AFTER.match(following) else words_

    text = _PLAIN.sub(spoken, text)
    # Digits glued to letters ("thứ4", "A1") are read too: no digit may reach the voice.
    return _GLUED_NUMBER.sub(lambda m: f" {read_number(m.group(0))} ", text)
