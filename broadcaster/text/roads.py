"""Roads and vehicles: road codes before a number, kilometre markers, chainages, number plates.

"ĐT" is "đường tỉnh" before a road number (ĐT 391, ĐT.391) and "điện thoại" before a telephone
number, so the road reading is decided here, before the phone rule sees "ĐT 391" as a hotline.
Road numbers are cardinals and a letter after them is spelled: "QL1A" = quốc lộ một a,
"ĐT.295B" = đường tỉnh hai trăm chín mươi lăm bê. "km 3" (no number before it) is a marker on
a road, "ki-lô-mét ba"; "Km15+500" adds "cộng năm trăm". A plate "20A-123.45" is read as
police and announcers read it: the province code as a number, the series letter by letter,
the serial digit by digit ("hai mươi a, một hai ba chấm bốn năm").
"""

from __future__ import annotations

import re

from broadcaster.text import words
from broadcaster.text.context import text_before
from broadcaster.text.numbers import cardinal, digits
from broadcaster.text.spelling import spell_letters

_CODES = "|".join(sorted(map(re.escape, words.ROAD_CODES), key=len, reverse=True))
# A road number: 1-3 digits and an optional capital suffix, not the start of a phone number
# ("ĐT 024 3825 1234") nor a decimal or date.
_ROAD = re.compile(
    rf"(?<![\w.])({_CODES})(?:\s?\.\s?|\s?)(\d{{1,3}})([A-Z]{{0,2}})(?![\w/]|[.,]\d|\s\d)"
)
_CALLING = re.compile(r"(?i)(?:gọi|liên hệ|liên lạc|hotline|số máy|:)\W*$")
_EMERGENCY_NUMBERS = frozenset({"111", "112", "113", "114", "115"})
_MARKER = re.compile(r"(?<![\w.,])(?<!\d\s)(?:km|Km|KM|K)\s?(\d{1,4})(?:\s?\+\s?(\d{1,3}))?(?![\w/]|[.,]\d)")
_MARKER_DASH = re.compile(r"(?<=\d)\s*-\s*(?=(?:km|Km|KM|K)\s?\d)")
_PLATE = re.compile(
    r"(?<![\w.,/-])(\d{2})\s?-?\s?([A-Z]{1,2})(\d?)\s?[-\s]\s?(?:(\d{3})\.(\d{2})|(\d{4,5}))(?!\w|[.,]\d)"
)


def _road(match: re.Match[str]) -> str:
    code, number, suffix = match.group(1), match.group(2), match.group(3)
    if code in words.DOTTED_ROAD_CODES and "." not in match.group(0):
        return match.group(0)  # "CT 15" is more likely chỉ thị 15; the expressway is written "CT.01"
    if code in words.AMBIGUOUS_ROAD_CODES:
        before = text_before(match.string, match.start(), 30)
        if _CALLING.search(before) or (number in _EMERGENCY_NUMBERS and "." not in match.group(0)):
            return match.group(0)  # "liên hệ ĐT 113": a telephone, left for the phone rule
    # "CT.01" is an expressway's code, said as written: "xê tê không một".
    numeral = digits(number) if code in words.DOTTED_ROAD_CODES else cardinal(int(number))
    spoken = f"{words.ROAD_CODES[code]} {numeral}"
    return f"{spoken} {spell_letters(suffix)}" if suffix else spoken


def read_road_codes(text: str) -> str:
    """"QL1A" -> "quốc lộ một a", "ĐT.391" -> "đường tỉnh ba trăm chín mươi mốt", "ĐH 12", "CT.01"."""
    return _ROAD.sub(_road, text)


def _marker(match: re.Match[str]) -> str:
    written, number, plus = match.group(0), match.group(1), match.group(2)
    if written.startswith("K") and not written.lower().startswith("km") and plus is None:
        return written  # "K15" alone is a code; only a chainage "K15+200" is a kilometre mark
    spoken = f"{words.UNITS['km']} {cardinal(int(number))}"
    return f"{spoken} {words.PHONE_PLUS} {cardinal(int(plus))}" if plus else spoken


def read_kilometre_markers(text: str) -> str:
    """"từ km 3 đến km 5" -> "từ ki-lô-mét ba đến ki-lô-mét năm"; "Km15+500" adds "cộng năm trăm"."""
    # "đoạn Km 25+100 - Km 27+300": a dash between two markers is a stretch of road, "đến".
    return _MARKER.sub(_marker, _MARKER_DASH.sub(f" {words.RANGE} ", text))


def _plate(match: re.Match[str]) -> str:
    province, series, series_digit = match.group(1), match.group(2), match.group(3)
    head = f"{cardinal(int(province))} {spell_letters(series)}"
    if series_digit:
        head += f" {digits(series_digit)}"
    if match.group(6):
        return f"{head}, {digits(match.group(6))}"
    return f"{head}, {digits(match.group(4))} {words.PLATE_DOT} {digits(match.group(5))}"


def read_number_plates(text: str) -> str:
    """"20A-123.45" -> "hai mươi a, một hai ba chấm bốn năm"; "29B1-678.90", "30A-12345"."""
    return _PLATE.sub(_plate, text)
