"""Dates, weekdays and months: "15/12/2026", "T7", "tháng 4", "Quý I/2026".

A bare d/m gets "ngày" in front unless a date word already stands there ("sáng 20/11" =
sáng ngày hai mươi tháng mười một), because that is how announcers read it. A small a/b
before "số", "diện tích"... is a fraction, and "trực 24/7" is not the 24th of July.
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.context import next_word, previous_word, text_after, text_before
from broadcaster.text.numbers import cardinal, month

_NOT_BEFORE = r"(?<![\w/.,-])"
_NOT_AFTER = r"(?![\w/]|[.,-]\d)"
_DATE_RANGE = re.compile(rf"{_NOT_BEFORE}(\d{{1,2}})\s*-\s*(\d{{1,2}})/(\d{{1,2}})(?:/(\d{{4}}))?{_NOT_AFTER}")
_DATE_TO_DATE = re.compile(
    rf"{_NOT_BEFORE}(\d{{1,2}}/\d{{1,2}}(?:/\d{{4}})?)\s*-\s*(\d{{1,2}}/\d{{1,2}}(?:/\d{{4}})?){_NOT_AFTER}"
)
_BARE_HYPHEN_DAY_MONTH = re.compile(r"(?<![\w/.,-])(\d{1,2})-(\d{1,2})(?![\w/-]|[.,]\d)")
_HOLIDAY_BEFORE = re.compile(rf"(?:{words.HOLIDAY_CONTEXT})[^,;.!?]*$")
_HYPHEN_DAY_MONTH = re.compile(r"(?i)\b(ngày|mồng|mùng)\s+(\d{1,2})-(\d{1,2})(?![\w/-]|[.,]\d)")
_QUARTER_YEAR = re.compile(r"(?i)\b(quý)\s+(\d)/(\d{4})\b")
_MONTH_WORD_YEAR = re.compile(r"(?i)\b(tháng)\s+(\d{1,2})/(\d{4})(?!\d)")
_FULL_DATE = re.compile(rf"{_NOT_BEFORE}(\d{{1,2}})([/.-])(\d{{1,2}})\2(\d{{4}}){_NOT_AFTER}")
_MONTH_YEAR = re.compile(rf"{_NOT_BEFORE}(\d{{1,2}})/(\d{{4}}){_NOT_AFTER}")
_DAY_MONTH = re.compile(rf"{_NOT_BEFORE}(\d{{1,2}})/(\d{{1,2}}){_NOT_AFTER}")
_MONTH_NAME = re.compile(r"(?i)\b(tháng)\s+(\d{1,2})(?![\d/]|[.,]\d)")

_WEEKDAY = r"(?:T[2-7]|CN)"
_WEEKDAY_PAIR = re.compile(rf"(?<![\w/])({_WEEKDAY})\s*-\s*({_WEEKDAY})(?![\w/])")
_WEEKDAY_TOKEN = re.compile(rf"(?<![\w/])({_WEEKDAY})(?![\w/])")
_DATE_FOLLOWS = re.compile(r"\s*[,(]?\s*\d{1,2}/\d{1,2}")
_LINK_BEFORE = re.compile(rf"(?:{_WEEKDAY}|thứ \w+|chủ nhật)\s*(?:,|và|hoặc|đến)\s*$")
_LINK_AFTER = re.compile(rf"\s*(?:,|và|hoặc|đến)\s*{_WEEKDAY}(?![\w/])")
_WEEKDAY_BEFORE = re.compile(r"(?i)(?:thứ\s+\w+|chủ nhật)\W*$")
_MONTH_ABBREVIATION = re.compile(r"(?<![\w/])T(1[0-2]|0?[1-9])/(\d{4})(?![\w/])")


def _valid(day: int, month_number: int) -> bool:
    return 1 <= day <= 31 and 1 <= month_number <= 12


_HOLIDAY_NAME_BEFORE = re.compile(r"\bNgày [A-ZĐ][^,;.!?]*$")


def _day_prefix(text: str, start: int) -> str:
    before = previous_word(text, start)
    if before in words.DATE_WORDS or before in words.DATE_NAMED_PLACES:
        return ""
    # "Ngày Quốc tế Phụ nữ 8/3": the holiday's name already says "ngày".
    return "" if _HOLIDAY_NAME_BEFORE.search(text_before(text, start, 80)) else "ngày "


def _spoken_date(day: int, month_number: int, year: str | None) -> str:
    spoken = f"{cardinal(day)} tháng {month(month_number)}"
    return f"{spoken} năm {cardinal(int(year))}" if year else spoken


def expand_weekday_abbreviations(text: str) -> str:
    """T2..T7 and CN where they are clearly weekdays: "T7, 15/12", "sáng CN", "T2-T6"."""
    text = _MONTH_ABBREVIATION.sub(r"tháng \1/\2", text)
    text = _WEEKDAY_PAIR.sub(
        lambda m: f"{words.WEEKDAY_ABBREVIATIONS[m.group(1)]} {words.RANGE} {words.WEEKDAY_ABBREVIATIONS[m.group(2)]}",
        text,
    )

    def weekday(match: re.Match[str]) -> str:
        source, start, end = match.string, match.start(), match.end()
        is_weekday = (
            previous_word(source, start) in words.WEEKDAY_CONTEXT
            or _DATE_FOLLOWS.match(source, end) is not None
            or _LINK_BEFORE.search(text_before(source, start)) is not None
            or _LINK_AFTER.match(text_after(source, end)) is not None
        )
        return words.WEEKDAY_ABBREVIATIONS[match.group(1)] if is_weekday else match.group(0)

    return _WEEKDAY_TOKEN.sub(weekday, text)


def read_date_to_date(text: str) -> str:
    """"15/12/2025-15/1/2026" -> "15/12/2025 đến 15/1/2026", so both dates are read as dates."""
    return _DATE_TO_DATE.sub(rf"\1 {words.RANGE} \2", text)


def read_hyphen_day_months(text: str) -> str:
    """"ngày 20-11" (no year, nothing after) is a date, not a range: ngày hai mươi tháng mười một."""

    def spoken(match: re.Match[str]) -> str:
        day, month_number = int(match.group(2)), int(match.group(3))
        if not _valid(day, month_number) or next_word(match.string, match.end()) == "tháng":
            return match.group(0)
        return f"{match.group(1)} {_spoken_date(day, month_number, None)}"

    return _HYPHEN_DAY_MONTH.sub(spoken, text)


def guess_holiday_dates(text: str) -> str:
    """"Quốc khánh 2-9", "dịp 30-4 và 1-5", "Ngày Nhà giáo Việt Nam 20-11": a date, not a range."""

    def spoken(match: re.Match[str]) -> str:
        day, month_number = int(match.group(1)), int(match.group(2))
        source = match.string
        if (
            not _valid(day, month_number)
            or next_word(source, match.end()) in words.RANGE_FOLLOWERS
            or not _HOLIDAY_BEFORE.search(text_before(source, match.start(), 80))
        ):
            return match.group(0)
        return _spoken_date(day, month_number, None)

    return _BARE_HYPHEN_DAY_MONTH.sub(spoken, text)


def read_date_ranges(text: str) -> str:
    """"15-17/12" -> "ngày mười lăm đến mười bảy tháng mười hai"."""

    def spoken(match: re.Match[str]) -> str:
        first, last, month_number = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if not (_valid(first, month_number) and _valid(last, month_number) and first < last):
            return match.group(0)
        tail = _spoken_date(last, month_number, match.group(4))
        return f"{_day_prefix(match.string, match.start())}{cardinal(first)} {words.RANGE} {tail}"

    return _DATE_RANGE.sub(spoken, text)


def read_quarter_years(text: str) -> str:
    """"quý 1/2026" (after Roman numerals are read) -> "quý một năm hai nghìn không trăm hai mươi sáu"."""
    return _QUARTER_YEAR.sub(lambda m: f"{m.group(1)} {cardinal(int(m.group(2)))} năm {cardinal(int(m.group(3)))}", text)


def read_full_dates(text: str) -> str:
    """d/m/yyyy, d-m-yyyy and d.m.yyyy, with "ngày" unless already there."""

    def spoken(match: re.Match[str]) -> str:
        day, month_number = int(match.group(1)), int(match.group(3))
        if not _valid(day, month_number):
            return match.group(0)
        return f"{_day_prefix(match.string, match.start())}{_spoken_date(day, month_number, match.group(4))}"

    return _FULL_DATE.sub(spoken, text)


def read_month_years(text: str) -> str:
    """"tháng 04/2026" and a bare "12/2026" -> "tháng ... năm ..."."""

    def with_word(match: re.Match[str]) -> str:
        month_number = int(match.group(2))
        if not 1 <= month_number <= 12:
            return match.group(0)
        return f"{match.group(1)} {month(month_number)} năm {cardinal(int(match.group(3)))}"

    def bare(match: re.Match[str]) -> str:
        month_number = int(match.group(1))
        if not 1 <= month_number <= 12:
            return match.group(0)
        return f"tháng {month(month_number)} năm {cardinal(int(match.group(2)))}"

    return _MONTH_YEAR.sub(bare, _MONTH_WORD_YEAR.sub(with_word, text))


def _dated(text: str, start: int) -> bool:
    """A word before d/m says it is a date: "ngày", "sáng", "từ", a weekday, "đường" (3/2)."""
    before = previous_word(text, start)
    return (
        before in words.DATE_CONTEXT
        or before in words.DATE_NAMED_PLACES
        or _WEEKDAY_BEFORE.search(text_before(text, start)) is not None
    )


def read_day_months(text: str) -> str:
    """A d/m that a date word announces: "ngày 1/5", "sáng 20/11", "thứ 2, 15/12", "đường 3/2"."""

    def spoken(match: re.Match[str]) -> str:
        day, month_number = int(match.group(1)), int(match.group(2))
        if not _dated(match.string, match.start()) or not _valid(day, month_number):
            return match.group(0)
        return f"{_day_prefix(match.string, match.start())}{_spoken_date(day, month_number, None)}"

    return _DAY_MONTH.sub(spoken, text)


def guess_day_months(text: str) -> str:
    """A bare d/m with no date word: a fraction ("1/2 số hộ"), a count ("3/5 thôn"), "24/7", or a date."""

    def spoken(match: re.Match[str]) -> str:
        first, second = int(match.group(1)), int(match.group(2))
        following = next_word(match.string, match.end())
        if first < second <= 10 and following in words.FRACTION_FOLLOWERS:
            return f"{cardinal(first)} {words.FRACTION} {cardinal(second)}"
        if (first, second) == (24, 7) or following in words.COUNTED_NOUNS or not _valid(first, second):
            # "trực 24/7", "19/19 tiêu chí": so many out of so many.
            return f"{cardinal(first)} {words.PER} {cardinal(second)}"
        return f"{_day_prefix(match.string, match.start())}{_spoken_date(first, second, None)}"

    return _DAY_MONTH.sub(spoken, text)


def read_month_names(text: str) -> str:
    """"tháng 4" -> "tháng tư", "tháng 1" -> "tháng một" (never "giêng": that is lunar)."""

    def spoken(match: re.Match[str]) -> str:
        month_number = int(match.group(2))
        return f"{match.group(1)} {month(month_number)}" if 1 <= month_number <= 12 else match.group(0)

    return _MONTH_NAME.sub(spoken, text)
