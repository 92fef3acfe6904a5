"""Bulletin text validation: stable codes, Vietnamese messages, NFC result."""

from __future__ import annotations

import unicodedata

import pytest

from broadcaster.errors import InvalidInput
from broadcaster.text import (
    MAX_BULLETIN_CHARS,
    MAX_SPOKEN_S,
    BidiControls,
    ConfusableCharacters,
    ControlCharacters,
    EmptyText,
    InvalidUnicode,
    InvisibleInNumber,
    NothingToSpeak,
    SpokenTooLong,
    TextTooLong,
    check_shown_as_spoken,
    measure_throughput,
    normalize,
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
        *[(f"Họp lúc {c}07:30{c} ngày 15/12", BidiControls, "text_bidi_control")
          for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"],
        *[(f"Nộp 1{c}500.000 đồng", InvisibleInNumber, "text_invisible_in_number")
          for c in "\u200b\u200c\u200d\u2060\ufeff\u00ad\u2062\u034f\u3164"],
        ("Họp lúc 7:\u200b30", InvisibleInNumber, "text_invisible_in_number"),
        ("Họp lúc 7h\u200b30", InvisibleInNumber, "text_invisible_in_number"),
        ("Ngày 15/1\u20602", InvisibleInNumber, "text_invisible_in_number"),
        ("Họp lúc ٧:٣٠", ConfusableCharacters, "text_confusable_characters"),  # Arabic-Indic
        ("Nộp １００ đồng", ConfusableCharacters, "text_confusable_characters"),  # full-width
        ("Nộp 𝟏𝟎𝟎 đồng", ConfusableCharacters, "text_confusable_characters"),  # mathematical bold
        ("Nộp 1O0.000 đồng", ConfusableCharacters, "text_confusable_characters"),  # Latin O among digits
        ("Nộp 10О.000 đồng", ConfusableCharacters, "text_confusable_characters"),  # Cyrillic О by a digit
        ("Họp ở Hà Nộі", ConfusableCharacters, "text_confusable_characters"),  # Cyrillic і in a word
        ("Số " + "7" * 4400, SpokenTooLong, "text_spoken_too_long"),
        ("Ngày 15/12/2026. " * 1100, SpokenTooLong, "text_spoken_too_long"),
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


@pytest.mark.parametrize(
    "text",
    [
        "Họp\u200b dân lúc 7h30 ngày 15/12",  # zero-width space between words: harmless, as copied from Word
        "Xin chào 👨\u200d👩\u200d👧 bà con",  # ZWJ inside an emoji sequence
        "Mua 2l nước, 1,5 μg thuốc, điện trở 10 Ω",  # units next to digits
        "Quốc lộ 1A, xe 29A-123.45, phòng 2O",  # letters after digits, not among them
        "Ἀθῆναι and Москва are foreign words, not mixed ones",
    ],
)
def test_harmless_invisible_and_foreign_characters_pass(text: str) -> None:
    assert validate_bulletin_text(text)


def test_the_reversed_time_that_motivated_the_rule_is_refused() -> None:
    # Displayed (bidi applied) "07:30"; stored and read in order: "03:70".
    shown_differently = "Họp lúc \u202e03:70\u202c"
    with pytest.raises(BidiControls) as raised:
        check_shown_as_spoken(shown_differently, "Tiêu đề")
    assert raised.value.message.startswith("Tiêu đề") and "U+202E" in raised.value.message


def test_spoken_length_is_measured_after_normalization() -> None:
    # Under the written limit, but dates read aloud take far longer than the same characters of words.
    dates = "Ngày 15/12/2026. " * 1100
    assert len(dates) < MAX_BULLETIN_CHARS
    with pytest.raises(SpokenTooLong) as raised:
        validate_bulletin_text(dates)
    assert "phút" in raised.value.message
    assert validate_bulletin_text(dates, max_spoken_s=10 * MAX_SPOKEN_S)


@pytest.mark.parametrize("template", ["{}", "số {},5", "{}.000 đồng", "ngày {}/12/2026", "{}h30", "từ {} đến {} km",
                                      "thứ {}", "{}%", "quý {}", "{}:{}", "V{}", "1.{}"])
def test_numbers_beyond_4300_digits_are_read_digit_by_digit_never_an_error(template: str) -> None:
    spoken = normalize(template.format("7" * 5000, "8" * 5000))
    assert spoken.count("bảy") == 5000


def test_numbers_longer_than_fifteen_digits_are_read_digit_by_digit() -> None:
    assert normalize("Số tài khoản 1234567890123456") == (
        "Số tài khoản một hai ba bốn năm sáu bảy tám chín không một hai ba bốn năm sáu")
    assert normalize("999999999999999 đồng").startswith("chín trăm chín mươi chín nghìn")  # fifteen: a number
