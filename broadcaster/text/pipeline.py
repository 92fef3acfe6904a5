"""The ordered list of rules that turns written Vietnamese into what an announcer says.

Each rule is a plain ``str -> str`` function (gTTS's tokenizer design); lexicon-dependent rules
are bound to a :class:`Lexicon`. The order is the design: addresses, plates, road codes and
phone numbers are read before anything splits them at dots or slashes; document codes before
the senses of ambiguous abbreviations and the lexicon; abbreviations before spelling; Roman
numerals before the dates and ordinals that read their digits; ranges before rates and units;
plain numbers last. A step marked ``guess`` rests on a guess the officer should check (letters
spelled one by one, a slash read as a date): the compose and approval pages highlight it.
Numbers too long to read as numbers (more than 15 digits) are spelled digit by digit early, so
no later rule makes an integer of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

from broadcaster.text import (
    addresses,
    cleaning,
    dates,
    digit_runs,
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
    about: str  # what the rule reads, in Vietnamese, for --explain and the pages
    guess: str | None = None


def _step(rule: Rule, guess: str | None = None, name: str | None = None, about: str | None = None) -> Step:
    module = getattr(rule, "__module__", "").rsplit(".", 1)[-1]
    return Step(name or f"{module}.{rule.__name__}", rule, about or guess or "", guess)


@lru_cache(maxsize=32)  # lexicons are immutable and hash by identity: one list per lexicon
def _steps(lexicon: Lexicon) -> tuple[Step, ...]:
    return (
        _step(cleaning.canonicalize_unicode, about="chuẩn hóa Unicode, dấu thanh, dấu gạch, khoảng trắng"),
        _step(cleaning.drop_decorations, about="bỏ biểu tượng cảm xúc, dấu đầu dòng"),
        _step(cleaning.join_lines, about="nối các dòng, mỗi dòng là một câu"),
        _step(versions.read_etc, about="v.v. đọc là vân vân"),
        _step(web.read_web_addresses, about="địa chỉ trang web, thư điện tử"),
        _step(roads.read_number_plates, about="biển số xe: mã tỉnh đọc như số, sê-ri đánh vần, số đọc từng chữ số"),
        _step(roads.read_road_codes, about="mã đường trước số hiệu đường (QL, ĐT, ĐH, ĐX...)"),
        _step(roads.read_kilometre_markers, about="cột cây số, lý trình (km 3, Km15+500)"),
        _step(phones.read_account_numbers, about="số tài khoản đọc từng chữ số"),
        _step(phones.read_phone_numbers, about="số điện thoại đọc từng chữ số, theo nhóm"),
        _step(digit_runs.read_long_digit_runs, about="số dài quá 15 chữ số đọc từng chữ số"),
        _step(versions.read_versions, about="số phiên bản: dấu chấm đọc là chấm"),
        _step(addresses.read_house_numbers, about="số nhà, ngõ, ngách: dấu gạch chéo đọc là trên"),
        _step(documents.read_document_numbers, about="số và ký hiệu văn bản"),
        _step(quantities.read_rates, about="đơn vị trên đơn vị: dấu gạch chéo đọc là mỗi"),
        _step(senses.read_by_neighbours, about="chữ viết tắt nhiều nghĩa, chọn nghĩa theo từ đứng cạnh"),
        _step(quantities.pause_after_alarm_levels, about="ngắt nghỉ giữa mức báo động và số đo"),
        _step(partial(restatements.drop_restated_abbreviations, lexicon=lexicon),
              name="restatements.drop_restated_abbreviations", about="bỏ chữ viết tắt trong ngoặc đã đọc đầy đủ ngay trước"),
        _step(dates.expand_weekday_abbreviations, about="thứ viết tắt (T2, CN)"),
        _step(partial(documents.split_code_clusters, lexicon=lexicon), name="documents.split_code_clusters",
              about="tách mã có gạch nối để đọc từng phần"),
        _step(lexicon.expand, name="lexicon.expand", about="từ điển chữ viết tắt"),
        _step(ordinals.read_roman_numerals, about="số La Mã sau từ chỉ thứ tự (khóa XV, quý I)"),
        _step(versions.read_mobile_generations, about="thế hệ mạng di động (4G, 5G)"),
        _step(spelling.read_alphanumeric_codes, CODE),
        _step(spelling.spell_unknown_acronyms, SPELLED),
        _step(dates.read_date_to_date, about="khoảng ngày: đọc là đến"),
        _step(dates.read_hyphen_day_months, about="ngày tháng viết bằng gạch nối sau từ ngày"),
        _step(dates.guess_holiday_dates, HOLIDAY),
        _step(dates.read_date_ranges, about="khoảng ngày trong một tháng"),
        _step(dates.read_quarter_years, about="quý và năm"),
        _step(dates.read_month_years, about="tháng và năm"),
        _step(dates.read_full_dates, about="ngày tháng năm"),
        _step(dates.read_day_months, about="ngày tháng có từ chỉ thời gian đứng trước"),
        _step(dates.guess_day_months, SLASH_DATE),
        _step(times.read_times, about="giờ phút"),
        _step(ordinals.read_ordinals, about="số thứ tự (thứ nhất, giải nhì)"),
        _step(dates.read_month_names, about="tên tháng (tháng tư)"),
        _step(quantities.unglue_hyphenated_numbers, about="tách số dính gạch nối với chữ"),
        _step(quantities.read_ranges, about="khoảng số: đọc là đến"),
        _step(quantities.read_money, about="số tiền"),
        _step(quantities.read_units, about="đơn vị đo sau số"),
        _step(quantities.read_ratios, SLASH_RATIO),
        _step(quantities.read_dimensions, about="kích thước (3x4 đọc là ba nhân bốn)"),
        _step(quantities.read_comparisons, about="dấu so sánh, dấu cộng giữa hai số"),
        _step(quantities.read_numbers, about="số"),
        _step(symbols.speak_symbols, about="ký hiệu đọc thành chữ hoặc thành chỗ ngắt"),
        _step(symbols.tidy_punctuation, about="dấu câu, khoảng trắng"),
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
