"""Bulletin text validation: stable codes, Vietnamese messages, NFC result."""

from __future__ import annotations

import unicodedata

import pytest

from broadcaster.errors import InvalidInput
from broadcaster.text import (
    MAX_BULLETIN_CHARS,
    ControlCharacters,
    EmptyText,
    InvalidUnicode,
    NothingToSpeak,
    TextTooLong,
    measure_throughput,
    validate_bulletin_text,
)


@pytest.mark.parametrize(
    ("text", "error", "code"),
    [
        ("", EmptyText, "text_empty"),
        (" \n\t ", EmptyText, "text_empty"),
        ("a" * (MAX_BULLETIN_CHARS + 1), TextTooLong, "text_too_long"),
        ("🎉🎉🎉", NothingToSpeak, "text_nothing_to_speak"),
        ("👉 *** !!! ->", NothingToSpeak, "text_nothing_to_speak"),
        ("Thông báo\x00", ControlCharacters, "text_control_characters"),
        ("Thông báo\x1b[31m", ControlCharacters, "text_control_characters"),
        ("Thông b\udcc3o", InvalidUnicode, "text_invalid_unicode"),
    ],
)
def test_bad_text(text: str, error: type[InvalidInput], code: str) -> None:
    with pytest.raises(error) as raised:
        validate_bulletin_text(text)
    assert isinstance(raised.value, InvalidInput)
    assert raised.value.code == code
    assert raised.value.message and raised.value.message.isascii() is False  # Vietnamese, not English


def test_good_text_comes_back_in_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Thông báo\tkhẩn\r\nHòa Bình")
    assert validate_bulletin_text(decomposed) == unicodedata.normalize("NFC", decomposed)
    assert validate_bulletin_text("a" * MAX_BULLETIN_CHARS) == "a" * MAX_BULLETIN_CHARS
    assert validate_bulletin_text("113") == "113"  # digits alone are speakable


def test_throughput_measurement_reports_what_it_ran() -> None:
    result = measure_throughput(["Ngày 15/12 lúc 7h30.", "UBND xã"], rounds=2)
    assert result.texts == 4
    assert result.characters == 2 * (len("Ngày 15/12 lúc 7h30.") + len("UBND xã"))
    assert result.seconds > 0 and result.characters_per_second > 0 and result.texts_per_second > 0
