"""Each rule on its own: the small str -> str functions of the pipeline."""

from __future__ import annotations

import random
import re

import pytest

from broadcaster.text import Lexicon, normalize
from broadcaster.text.cleaning import canonicalize_unicode, drop_decorations, join_lines, old_style_tones
from broadcaster.text.dates import (
    expand_weekday_abbreviations,
    guess_day_months,
    read_date_ranges,
    read_day_months,
    read_full_dates,
    read_month_names,
)
from broadcaster.text.documents import read_document_numbers, split_code_clusters
from broadcaster.text.ordinals import read_ordinals, read_roman_numerals, roman_value
from broadcaster.text.phones import read_phone_numbers
from broadcaster.text.pipeline import rules_for
from broadcaster.text.quantities import read_money, read_numbers, read_ranges, read_rates, read_units
from broadcaster.text.sentences import split_sentences
from broadcaster.text.spelling import is_vietnamese_syllable, read_alphanumeric_codes, spell_unknown_acronyms
from broadcaster.text.symbols import speak_symbols, tidy_punctuation
from broadcaster.text.times import read_times, spoken_time
from broadcaster.text.web import read_web_addresses


def test_every_rule_maps_strings_to_strings(lexicon: Lexicon) -> None:
    rules = rules_for(lexicon)
    assert len(rules) > 20
    for rule in rules:
        assert isinstance(rule(""), str)
        assert isinstance(rule("UBND xã, 7h30 ngày 15/12 🎉"), str)


def test_unicode_canonical_form() -> None:
    assert canonicalize_unicode("Hoa\u0300 Bi\u0300nh") == "Hòa Bình"
    assert canonicalize_unicode("7h30\u00a0sáng\u200b") == "7h30 sáng"
    assert canonicalize_unicode("2020\u20132025 \u2212 5") == "2020-2025 - 5"
    assert canonicalize_unicode("25\u2103") == "25°C"


@pytest.mark.parametrize(
    ("new_style", "old_style"),
    [("hoà", "hòa"), ("HOÀ", "HÒA"), ("khoẻ", "khỏe"), ("thuỷ", "thủy"), ("Uỷ", "Ủy"), ("tuỳ", "tùy")],
)
def test_tone_marks_move_to_the_first_vowel_of_open_syllables(new_style: str, old_style: str) -> None:
    assert old_style_tones(new_style) == old_style


@pytest.mark.parametrize("word", ["quý", "hoàn", "khuỷu", "thuyền", "của", "hòa"])
def test_tone_marks_left_alone(word: str) -> None:
    assert old_style_tones(word) == word


def test_decorations_and_lines() -> None:
    assert drop_decorations("👉 Đăng ký ✅").split() == ["Đăng", "ký"]
    lines = drop_decorations("- Địa điểm\n+ Thời gian\n• Ghi chú").split("\n")
    assert [line.strip() for line in lines] == ["Địa điểm", "Thời gian", "Ghi chú"]
    assert drop_decorations("-5°C") == "-5°C"  # a minus sign, not a bullet
    assert join_lines("THÔNG BÁO\n\nVề việc họp\nThành phần:\nCán bộ") == "THÔNG BÁO. Về việc họp. Thành phần: Cán bộ"


def test_web_addresses() -> None:
    assert read_web_addresses("www.chinhphu.vn") == "vê kép vê kép vê kép chấm chính phủ chấm vê en"
    assert read_web_addresses("Gửi a.b_1@gmail.com.") == "Gửi a chấm bê gạch dưới một a còng gờ meo chấm com."
    assert read_web_addresses("TP.HCM và v.v") == "TP.HCM và v.v"  # not addresses


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("0912 345 678", "không chín một hai, ba bốn năm, sáu bảy tám"),
        ("0243.825.1234", "không hai bốn ba, tám hai năm, một hai ba bốn"),
        ("+84 24 3825 1234", "cộng tám bốn, hai bốn, ba tám hai năm, một hai ba bốn"),
        ("1800 1091", "một tám không không, một không chín một"),
        ("Hotline: 1022", "Hotline: một không hai hai"),
        ("gọi 0912 345 678 hoặc 114", "gọi không chín một hai, ba bốn năm, sáu bảy tám hoặc một một bốn"),
        ("năm 2026 có 114 hộ", "năm 2026 có 114 hộ"),
        ("091234567", "091234567"),  # nine digits: not a Vietnamese phone number
    ],
)
def test_phone_numbers(text: str, spoken: str) -> None:
    assert read_phone_numbers(text) == spoken


def test_document_numbers_and_code_clusters(lexicon: Lexicon) -> None:
    assert read_document_numbers("Nghị định 100/2019/NĐ-CP") == "Nghị định 100 năm 2019 nghị định chính phủ"
    assert read_document_numbers("số 45/KH-UBND") == "số 45 kế hoạch UBND"
    # The position in the code decides: type first, issuer after.
    assert read_document_numbers("Chỉ thị 05-CT/TU") == "Chỉ thị 05 chỉ thị tỉnh ủy"
    assert read_document_numbers("Thông tư 12/2024/TT-BCT") == "Thông tư 12 năm 2024 thông tư bộ công thương"
    assert read_document_numbers("số 12/CĐ-TTg") == "số 12 công điện thủ tướng"
    assert read_document_numbers("số 45/UBND-VP") == "số 45 UBND văn phòng"
    assert read_document_numbers("ngày 15/12") == "ngày 15/12"
    assert split_code_clusters("QĐ-UBND và NĐ-CP", lexicon) == "QĐ UBND và NĐ-CP"


def test_weekday_abbreviations_need_context() -> None:
    assert expand_weekday_abbreviations("T7, 15/12") == "thứ bảy, 15/12"
    assert expand_weekday_abbreviations("chiều T6") == "chiều thứ sáu"
    assert expand_weekday_abbreviations("T2-T6") == "thứ hai đến thứ sáu"
    assert expand_weekday_abbreviations("T7 hoặc CN") == "thứ bảy hoặc chủ nhật"
    assert expand_weekday_abbreviations("phòng T2 tầng 3") == "phòng T2 tầng 3"
    assert expand_weekday_abbreviations("nông dân và CN") == "nông dân và CN"
    assert expand_weekday_abbreviations("so với T10/2025") == "so với tháng 10/2025"


def test_date_rules() -> None:
    assert read_full_dates("ngày 31/12/2025") == "ngày ba mươi mốt tháng mười hai năm hai nghìn không trăm hai mươi lăm"
    assert read_full_dates("32/12/2025") == "32/12/2025"  # not a date
    assert read_date_ranges("ngày 15-17/12") == "ngày mười lăm đến mười bảy tháng mười hai"
    assert read_day_months("sáng 24/7") == "sáng ngày hai mươi bốn tháng bảy"
    assert read_day_months("trực 24/7") == "trực 24/7"  # no date word: left for the guess
    assert read_day_months("đường 3/2") == "đường ba tháng hai"  # a street named after a date
    assert guess_day_months("trực 24/7") == "trực hai mươi bốn trên bảy"
    assert guess_day_months("2/3 diện tích") == "hai phần ba diện tích"
    assert guess_day_months("19/19 tiêu chí") == "mười chín trên mười chín tiêu chí"
    assert guess_day_months("họp 15/12") == "họp ngày mười lăm tháng mười hai"
    assert read_day_months("ngày 1/5 học sinh nghỉ") == "ngày một tháng năm học sinh nghỉ"
    assert read_month_names("tháng 4 và tháng 13") == "tháng tư và tháng 13"


def test_times() -> None:
    assert spoken_time("23:59:59") == "hai mươi ba giờ năm mươi chín phút năm mươi chín giây"
    assert spoken_time("25h") is None
    assert spoken_time("7h75") is None
    assert read_times("nặng 7g") == "nặng 7g"  # grams, not a time
    assert read_times("5 ha") == "5 ha"
    assert read_times("từ 8:00 - 11:30") == "từ tám giờ đến mười một giờ ba mươi phút"


def test_roman_numerals() -> None:
    assert [roman_value(n) for n in ("I", "IV", "XIII", "XXI", "MCMXLV")] == [1, 4, 13, 21, 1945]
    assert roman_value("IIII") is None
    assert roman_value("VX") is None
    assert read_roman_numerals("khoá XV, phần II") == "khoá 15, phần 2"  # context words in both tone styles
    assert read_roman_numerals("Nguyễn Văn V, đội C, CẤM VI PHẠM") == "Nguyễn Văn V, đội C, CẤM VI PHẠM"


def test_ordinals() -> None:
    assert read_ordinals("lần thứ 1, thứ 4, giải 2, hạng 1, đợt 2") == "lần thứ nhất, thứ tư, giải nhì, hạng nhất, đợt 2"
    assert read_ordinals("THỨ 7") == "THỨ bảy"


def test_spelling() -> None:
    assert is_vietnamese_syllable("THÔNG")
    assert is_vietnamese_syllable("nghiêng")
    assert not is_vietnamese_syllable("UBND")
    assert spell_unknown_acronyms("mã SGTGT và THÔNG BÁO") == "mã ét giê tê giê tê và THÔNG BÁO"
    assert spell_unknown_acronyms("UNESCOX") == "UNESCOX"  # too long to be initials
    assert read_alphanumeric_codes("H5N1 và F0") == "hát năm nờ một và ép không"


def test_quantity_rules() -> None:
    assert read_ranges("3-5 ngày, thắng 3-1") == "3 đến 5 ngày, thắng 3 1"
    assert read_money(read_rates("50.000đ/hộ/tháng")) == "năm mươi nghìn đồng mỗi hộ mỗi tháng"
    assert read_money("$5 và 10 USD") == "năm đô la và mười đô la"
    assert read_units(read_rates("-5°C, 30°, 2 km², 5 m³/s")) == "âm năm độ xê, ba mươi độ, hai ki-lô-mét vuông, năm mét khối mỗi giây"
    assert read_units("ha ha, m") == "ha ha, m"
    assert read_numbers("từ -3 đến 4,5 và 12A") == "từ âm ba đến bốn phẩy năm và mười hai A"


def test_symbols_and_punctuation() -> None:
    assert tidy_punctuation(speak_symbols("An toàn & vệ sinh (ATVS) - tốt !!")) == "An toàn và vệ sinh, ATVS, tốt!"
    assert tidy_punctuation(speak_symbols("anh/chị #tin *mới*")) == "anh chị tin mới"
    assert tidy_punctuation(" , xin chào ,  bà con .") == "xin chào, bà con."


def test_no_digit_reaches_the_voice(lexicon: Lexicon) -> None:
    rng = random.Random(7)
    tokens = ["7h30", "15/12", "2026", "-", "/", "UBND", "thứ", "4", "0912", "+84", ".", ",", "%", "km",
              "m2", "đ", "quý", "XIII", "T7", "(", "&", "1.000", "2,5", " ", "\n", "113", "gọi", "007",
              "°C", "24/7", "1/2", "3-1", "h", "g", "k", "$", "ngày", "A1", "x"]
    for _ in range(1500):
        text = "".join(rng.choice(tokens) + rng.choice(["", " "]) for _ in range(rng.randint(0, 12)))
        spoken = normalize(text, lexicon)
        assert not re.search(r"\d", spoken), (text, spoken)
        assert spoken == spoken.strip() and "  " not in spoken


def test_split_sentences_is_usable_on_normalized_text(lexicon: Lexicon) -> None:
    spoken = normalize("UBND xã thông báo. Ngày 15/12 họp.\nTP. Hà Nội mưa to", lexicon)
    assert split_sentences(spoken) == [
        "ủy ban nhân dân xã thông báo.",
        "Ngày mười lăm tháng mười hai họp.",
        "thành phố Hà Nội mưa to",
    ]
