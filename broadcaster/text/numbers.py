"""Reading numbers in Vietnamese: cardinals, digit strings, decimals, ordinals, months.

Pure functions on strings and integers; the rules that find numbers in text live in
``quantities.py`` and friends. The readings follow the announcer's conventions:
1.005 = một nghìn không trăm linh năm, 21 = hai mươi mốt, 25 = hai mươi lăm,
2.000.500 = hai triệu năm trăm (empty groups are skipped, the next one says "không trăm").
"""

from __future__ import annotations

import re

from broadcaster.text import words

# A written number: dotted thousands (1.000.000) with an optional decimal comma (2,5), an
# English-style decimal point with one or two digits (1.5 triệu), or plain digits. Every rule
# that reads a quantity uses it, so they all agree on what a number is.
NUMBER = r"(?:\d{1,3}(?:\.\d{3})+(?:,\d+)?(?!\d)|\d+\.\d{1,2}(?!\d)|\d+(?:,\d+)?)"
_THOUSANDS_DOT = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
_DOT_DECIMAL = re.compile(r"^\d+\.\d{1,2}$")


def digits(text: str) -> str:
    """Each digit of ``text`` by name: "007" -> "không không bảy"."""
    return " ".join(words.DIGITS[int(char)] for char in text if char.isdecimal())


def _tens_and_units(number: int) -> str:
    """Read 10..99."""
    tens, unit = divmod(number, 10)
    if tens == 1:
        head = words.TEN
        tail = {0: "", 5: words.FIVE_AFTER_TENS}.get(unit, words.DIGITS[unit])
    else:
        head = f"{words.DIGITS[tens]} {words.TENS}"
        tail = {0: "", 1: words.ONE_AFTER_TENS, 5: words.FIVE_AFTER_TENS}.get(unit, words.DIGITS[unit])
    return f"{head} {tail}".strip()


def _below_thousand(number: int, *, inner: bool) -> str:
    """Read 0..999; ``inner`` means a bigger group came first, so hundreds must be said."""
    hundreds, rest = divmod(number, 100)
    parts: list[str] = []
    if hundreds or inner:
        parts.append(f"{words.DIGITS[hundreds]} {words.HUNDRED}")
    if 0 < rest < 10:
        parts.append(f"{words.ZERO_TENS} {words.DIGITS[rest]}" if parts else words.DIGITS[rest])
    elif rest >= 10:
        parts.append(_tens_and_units(rest))
    return " ".join(parts)


def _below_billion(number: int, *, inner: bool) -> str:
    """Read 0..999 999 999 as groups of triệu, nghìn and units; zero groups are skipped."""
    parts: list[str] = []
    for scale, name in ((1_000_000, words.MILLION), (1_000, words.THOUSAND), (1, "")):
        group, number = divmod(number, scale)
        if group:
            parts.append(f"{_below_thousand(group, inner=inner or bool(parts))} {name}".strip())
    return " ".join(parts)


def cardinal(number: int) -> str:
    """Read an integer: 1005 -> "một nghìn không trăm linh năm", -5 -> "âm năm"."""
    if number < 0:
        return f"{words.NEGATIVE} {cardinal(-number)}"
    if number == 0:
        return words.DIGITS[0]
    billions, rest = divmod(number, 1_000_000_000)
    if not billions:
        return _below_billion(rest, inner=False)
    # 10^12 is "một nghìn tỷ": the part before "tỷ" is itself a cardinal.
    head = f"{cardinal(billions)} {words.BILLION}"
    return f"{head} {_below_billion(rest, inner=True)}" if rest else head


def fraction_digits(text: str) -> str:
    """Read the part after the decimal comma: "5" -> năm, "25" -> hai mươi lăm, "05" -> không năm."""
    stripped = text.lstrip("0")
    zeros = len(text) - len(stripped)
    if not stripped:
        return digits(text)
    if len(stripped) > 2:
        return digits(text)
    spoken = cardinal(int(stripped))
    return f"{digits('0' * zeros)} {spoken}" if zeros else spoken


def read_number(text: str) -> str:
    """Read one written number: "1.000.000", "2,5", "1.5", "05", "007", "20000"."""
    if "," in text:
        whole, fraction = text.split(",", 1)
        return f"{read_number(whole)} {words.DECIMAL_POINT} {fraction_digits(fraction)}"
    if _THOUSANDS_DOT.match(text):
        return cardinal(int(text.replace(".", "")))
    if _DOT_DECIMAL.match(text):
        # "1.5 triệu": a dot followed by one or two digits is an English-style decimal point.
        whole, fraction = text.split(".", 1)
        return f"{cardinal(int(whole))} {words.DECIMAL_POINT} {fraction_digits(fraction)}"
    plain = text.replace(".", "")
    if len(plain) > 1 and plain.startswith("0"):
        # Official style writes small counts with a zero ("gồm 05 thành viên" = năm);
        # three or more digits with a leading zero are codes, read digit by digit.
        return cardinal(int(plain)) if len(plain) == 2 else digits(plain)
    return cardinal(int(plain))


def ordinal(number: int) -> str:
    """The word after "thứ": 1 -> nhất, 4 -> tư, otherwise the cardinal."""
    return words.ORDINALS.get(number) or cardinal(number)


def rank(number: int) -> str:
    """The word after "giải"/"hạng": 1 -> nhất, 2 -> nhì, 4 -> tư."""
    return words.RANKS.get(number) or cardinal(number)


def month(number: int) -> str:
    """The word after "tháng": 4 -> tư, 1 -> một, 12 -> mười hai."""
    return words.MONTHS.get(number) or cardinal(number)
