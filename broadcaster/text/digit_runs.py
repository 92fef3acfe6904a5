"""Very long digit strings are read digit by digit, before any rule turns them into integers.

Nobody reads a 20-digit number as a cardinal (the words stop at "nghìn tỷ tỷ"), and turning
thousands of digits into a Python integer is slow and, past 4 300 digits, an error. So any number
longer than ``MAX_CARDINAL_DIGITS`` digits is spoken one digit at a time here, at the start of the
pipeline; the spoken-length limit of the validation then refuses the absurd ones.
"""

from __future__ import annotations

import re

from broadcaster.text import words

MAX_CARDINAL_DIGITS = 15  # up to "nghìn tỷ" (10^15), still read as a number
_NUMBER_RUN = re.compile(r"\d(?:[\d.,]*\d)?")


def _spell(run: re.Match[str]) -> str:
    text = run.group(0)
    if sum(char.isdecimal() for char in text) <= MAX_CARDINAL_DIGITS:
        return text
    spoken = [words.DIGITS[int(char)] if char.isdecimal() else words.DECIMAL_POINT
              for char in text if char != "."]
    return " ".join(spoken)


def read_long_digit_runs(text: str) -> str:
    """Numbers of more than 15 digits, digit by digit: "1234567890123456" -> "một hai ba ... sáu"."""
    return _NUMBER_RUN.sub(_spell, text)
