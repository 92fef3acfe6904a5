"""Numbers with what they count: ranges, money, units, percentages, and plain numbers.

Order matters and is kept by the pipeline: ranges first ("30-35°C" -> "30 đến 35°C"), then
money and units, which read their own number, and last every number still written in digits.
Units are read only after a number, so "ha ha" and "m" in a name stay as written.
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.numbers import NUMBER, digits, read_number

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
    rf"{_SIGNED}\s*({_alternation(_UNIT_KEYS)})(?![^\W\d_]|[²³])"
)
# "22/0,4kV": a ratio of two measures in the same unit (a transformer), "trên" as in 19/19.
_RATIO_OF_MEASURES = re.compile(rf"(?<![\w.,/])({_NUM})/(?={_NUM}\s*(?:{_alternation(_UNIT_KEYS)})(?![^\W\d_]))")
# "cao từ 1,62 m" is said as people say heights: "một mét sáu mươi hai".
_HEIGHT = re.compile(r"(?i)(\bcao\b(?:\s+[^\W\d_]+){0,2}\s+)([12]),(\d{2})\s*m(?![^\W\d_]|[²³])")
_DONG = re.compile(rf"{_SIGNED}\s*({_alternation(list(words.DONG_SYMBOLS))})(?![^\W\d_])")
_RATE = re.compile(r"(?<![^\s(])([^\s/()]*?(?:[^\W\d_][23²³]?|%))((?:\s?/\s?(?:\d+\s?)?[^\W\d_][\w²³]*)+)")
_RATE_PART = re.compile(r"/\s?(\d+)?\s?([^\s/\d][^\s/]*)")
# "15 kg gạo/HS/tháng": the number may stand a unit and a noun before the slash.
_NUMBER_BEFORE = re.compile(rf"(?<![\w.,]){_NUM}\s*(?:[^\W\d_]+\s+){{0,2}}$")
_UNIT_PART = re.compile(r"[^\W\d_]+|%")
_DOLLAR_BEFORE = re.compile(rf"\$\s*({_NUM})")
_DOLLAR_AFTER = re.compile(rf"(?<![\w.,])({_NUM})\s*(?:\$|(?:{_alternation(list(words.DOLLAR_SYMBOLS))})(?!\w))")
_THOUSANDS_K = re.compile(rf"(?<![\w.,])({_NUM})\s?{words.THOUSAND_SUFFIX}(?![^\W\d_])")
_PLAIN = re.compile(_SIGNED)
_GLUED_NUMBER = re.compile(_NUM)
_RATIO = re.compile(rf"(?<![\w.,/])({_NUM})/({_NUM})(?![\w/]|[.,]\d)")
_RATIO_HOURS = re.compile(rf"(?<![\w.,/])({_NUM})/({_NUM})h(?!\w)")
_DIMENSIONS = re.compile(rf"(?<![\w.,])({_NUM})\s?[xX×]\s?(?={_NUM}(?![\w.,]|[.,]\d)|{_NUM}\s?[^\W\d_])")
# "112 bé trai/100 bé gái": so many of one thing against so many of another.
_COUNT_AGAINST_COUNT = re.compile(rf"(?<![\w.,])({_NUM}\s+[^\W\d_][^/\d]{{0,30}}?[^\W\d_])\s?/\s?(?={_NUM}\s+[^\W\d_])")
_NUMBER_CHAIN = re.compile(r"(?<![\w.,/-])\d{1,3}(?:-\d{1,3}){2,}(?![\w/-]|[.,]\d)")
_EACH_UNIT = re.compile(rf"(?i)\b(mỗi)\s+({_alternation(list(words.UNITS_AFTER_EACH))})(?![^\W\d_])")
# "dưới BĐ1 0,15 m": a pause keeps "báo động một" apart from "không phẩy mười lăm mét".
_LEVEL_THEN_MEASURE = re.compile(r"(\b(?:BĐ|báo động)\s?\d)\s+(?=\d)")
_IDENTIFIER = re.compile(
    rf"(?i)\b((?:{_alternation(list(words.IDENTIFIER_WORDS))})\s+(?:số\s+)?)(0\d)(?![\w/]|[.,]\d)"
)
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
    """"5-7" -> "5 đến 7"; a falling pair such as a score "3-1" is read "3 1"; "NPK 5-10-3" -> "5 10 3"."""
    text = _NUMBER_CHAIN.sub(lambda m: m.group(0).replace("-", " "), text)

    def spoken(match: re.Match[str]) -> str:
        first, last = match.group(1), match.group(2)
        joiner = f" {words.RANGE} " if _value(first) <= _value(last) else " "
        return f"{first}{joiner}{last}"

    return _RANGE.sub(spoken, text)


def read_money(text: str) -> str:
    """"50.000đ", "100.000 VNĐ", "35.000đ/kg", "$100", "50k"."""

    def dong(match: re.Match[str]) -> str:
        return f"{_signed(match.group(1), match.group(2))} {words.DONG}"

    text = _DONG.sub(dong, text)
    text = _THOUSANDS_K.sub(lambda m: f"{read_number(m.group(1))} {words.THOUSAND}", text)
    text = _DOLLAR_BEFORE.sub(lambda m: f"{read_number(m.group(1))} {words.DOLLAR}", text)
    return _DOLLAR_AFTER.sub(lambda m: f"{read_number(m.group(1))} {words.DOLLAR}", text)


def _is_rate(match: re.Match[str], denominators: list[str]) -> bool:
    left = match.group(1)
    unit = "".join(_UNIT_PART.findall(left))
    priced = unit in words.MONEY_UNITS and (any(char.isdecimal() for char in left) or len(unit) > 1)
    if priced and all(part.islower() or part in words.RATE_DENOMINATORS for part in denominators):
        return True  # a price per anything: "30.000 đồng/thẻ", "500.000đ/hộ/tháng"
    if not all(part in words.RATE_DENOMINATORS for part in denominators):
        return False  # "anh/chị", "nam/nữ": the slash means "or"
    return (
        any(char.isdecimal() for char in left)  # "0,6%/tháng", "20k/người"
        or unit in words.RATE_NUMERATORS  # "tạ/ha" with or without a number
        or _NUMBER_BEFORE.search(match.string, max(0, match.start() - 30), match.start()) is not None
    )


def _per(count: str, written: str) -> str:
    spoken = words.UNITS.get(written) or words.PER_UNITS.get(written) or written
    if not count:
        return f" {words.RATE} {spoken}"
    # "100 mm/24h" is so much within 24 hours; "10 ml/4 lít" so much for each 4 litres.
    joiner = words.WITHIN if written in words.TIME_UNITS else words.RATE
    return f" {joiner} {count} {spoken}"


def read_rates(text: str) -> str:
    """"60 tạ/ha" -> "60 tạ mỗi héc-ta", "500.000đ/hộ/tháng" -> "500.000đ mỗi hộ mỗi tháng"."""

    def spoken(match: re.Match[str]) -> str:
        parts = _RATE_PART.findall(match.group(2))
        if not _is_rate(match, [part for _count, part in parts]):
            return match.group(0)
        return match.group(1) + "".join(_per(count, part) for count, part in parts)

    return _RATE.sub(spoken, text)


def read_units(text: str) -> str:
    """Measures after a number: "25°C", "5 km", "200 m²", "60 km/h", "15%"."""

    def unit(match: re.Match[str]) -> str:
        return f"{_signed(match.group(1), match.group(2))} {words.UNITS[match.group(3)]}"

    text = _EACH_UNIT.sub(lambda m: f"{m.group(1)} {words.UNITS[m.group(2)] if m.group(2) in words.UNITS else m.group(2)}", text)
    text = _HEIGHT.sub(lambda m: f"{m.group(1)}{read_number(m.group(2))} {words.UNITS['m']} {read_number(m.group(3))}", text)
    text = _RATIO_OF_MEASURES.sub(rf"\1 {words.PER} ", text)
    text = _TEMPERATURE.sub(lambda m: f"{_signed(m.group(1), m.group(2))} {words.UNITS['°C']}", text)
    text = _DEGREES.sub(lambda m: f"{_signed(m.group(1), m.group(2))} {words.UNITS['°']}", text)
    return _UNIT.sub(unit, text)


def read_ratios(text: str) -> str:
    """A slash between numbers that is not a date: "1234/5678" -> "1234 trên 5678"."""
    text = _COUNT_AGAINST_COUNT.sub(rf"\1 {words.PER} ", text)
    text = _RATIO_HOURS.sub(rf"\1 {words.PER} \2 {words.PER_UNITS['h']}", text)  # "trực 24/24h"
    # Read to words here, so the reading stands as one span the pages can mark as a guess.
    return _RATIO.sub(lambda m: f"{read_number(m.group(1))} {words.PER} {read_number(m.group(2))}", text)


def read_dimensions(text: str) -> str:
    """"ảnh 3x4" -> "ảnh 3 nhân 4", "2 x 3 m" -> "2 nhân 3 m"."""
    return _DIMENSIONS.sub(rf"\1 {words.TIMES} ", text)


def pause_after_alarm_levels(text: str) -> str:
    """"trên BĐ2 0,3 m" -> "trên BĐ2, 0,3 m": two numbers side by side would be heard as one."""
    return _LEVEL_THEN_MEASURE.sub(r"\1, ", text)


def read_comparisons(text: str) -> str:
    """">60 tuổi" -> "trên 60 tuổi", "≤ 5" -> "không quá 5", "Km 15+500" -> "15 cộng 500"."""
    text = _PLUS_BETWEEN_NUMBERS.sub(f" {words.PHONE_PLUS} ", text)
    return _COMPARISON.sub(lambda m: f" {words.COMPARISONS[m.group(1)]} ", text)


def read_numbers(text: str) -> str:
    """Every number still in digits: "1.005" -> "một nghìn không trăm linh năm", "-5" -> "âm năm"."""
    text = _IDENTIFIER.sub(lambda m: m.group(1) + digits(m.group(2)), text)

    def spoken(match: re.Match[str]) -> str:
        following = match.string[match.end() : match.end() + 1]
        if _WORD_AFTER.match(following):
            return f"{_signed(match.group(1), match.group(2)) if match.group(1) else _glued(match.group(2))} "
        return _signed(match.group(1), match.group(2))

    text = _PLAIN.sub(spoken, text)
    # Digits glued to letters ("thứ4", "A1") are read too: no digit may reach the voice.
    return _GLUED_NUMBER.sub(lambda m: f" {_glued(m.group(0))} ", text)


def _glued(written: str) -> str:
    # "17-01D", "phòng 02B": a padded number glued to a letter is a code, said digit by digit.
    return digits(written) if written.startswith("0") and written.isdecimal() and len(written) > 1 else read_number(written)
