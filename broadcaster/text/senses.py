"""Abbreviations with more than one meaning, told apart by their neighbours.

"BCH QS" is the ban chỉ huy quân sự but "BCH Đoàn" the ban chấp hành; "nộp HS" is a hồ sơ but
"HS lớp 9" a học sinh; "Quý KH" of the electricity company is a khách hàng but "KH số 12" a
kế hoạch; "THT" is tụ huyết trùng in a vaccination notice and tổ hợp tác next to a cooperative.
Each sense names the neighbours that choose it and says why (``broadcaster normalize
--explain`` prints that reason). When no sense fits, the abbreviation is left for the lexicon's
default reading or, if it has none, for spelling: a wrong meaning is worse than letters.
Road codes before a number ("ĐT 391") are read in ``roads.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from broadcaster.text.context import text_after, text_before

Condition = Callable[[str, int, int], bool]  # (text, start, end) of the abbreviation -> holds?
_SENTENCE_END = re.compile(r"[.!?]\s")


def preceded_by(pattern: str) -> Condition:
    """The words just before match ``pattern`` (anchored at the abbreviation)."""
    compiled = re.compile(rf"(?:{pattern})\s*$")
    return lambda text, start, end: compiled.search(text_before(text, start, 40)) is not None


def followed_by(pattern: str) -> Condition:
    """The words just after match ``pattern`` (anchored at the abbreviation, whole words)."""
    compiled = re.compile(rf"\s*(?:{pattern})(?![^\W\d_])")
    return lambda text, start, end: compiled.match(text_after(text, end, 40)) is not None


def followed_by_name() -> Condition:
    """A capitalised word follows (a place name: "BĐ Vũ Thư", "PC Thái Bình")."""
    word = re.compile(r"\s+([^\W\d_]+)")

    def holds(text: str, start: int, end: int) -> bool:
        found = word.match(text_after(text, end, 40))
        return found is not None and found.group(1).istitle() and len(found.group(1)) > 1

    return holds


def in_sentence(pattern: str) -> Condition:
    """The sentence around the abbreviation mentions ``pattern`` (the subject of the bulletin)."""
    compiled = re.compile(pattern)

    def holds(text: str, start: int, end: int) -> bool:
        before = text_before(text, start, 200)
        ends = list(_SENTENCE_END.finditer(before))
        after = text_after(text, end, 200)
        stop = _SENTENCE_END.search(after)
        sentence = before[ends[-1].end() :] if ends else before
        sentence += " " + (after[: stop.start()] if stop else after)
        return compiled.search(sentence) is not None

    return holds


def all_of(*conditions: Condition) -> Condition:
    """Every condition holds."""
    return lambda text, start, end: all(condition(text, start, end) for condition in conditions)


@dataclass(frozen=True)
class Sense:
    """One reading of an ambiguous abbreviation, chosen when any of its conditions holds."""

    spoken: str
    why: str
    conditions: tuple[Condition, ...]

    def fits(self, text: str, start: int, end: int) -> bool:
        """Whether the neighbours of text[start:end] choose this sense."""
        return any(condition(text, start, end) for condition in self.conditions)


_VETERINARY = r"(?i:tiêm phòng|vắc[- ]?xin|trâu|bò|lợn|heo|gia súc|gia cầm|thú y|dịch bệnh|LMLM|VDNC)"
_COOPERATIVE = r"HTX|(?i:hợp tác xã|kinh tế tập thể|tổ hợp tác)"
_UTILITY = r"(?i:điện|nước sạch|cước|nhà mạng|viễn thông)"
_ORGANISATIONS = (
    r"UBND|HĐND|UBMTTQ|MTTQ|HND|HLHPN|HCCB|HNCT|HKH|HCT|CĐCS|LĐLĐ|Ủy ban|ủy ban|Hội|hội|Công đoàn|"
    r"nước|xã|phường|huyện|tỉnh"
)
_CENTRES = (
    r"[Yy] tế|YT|[Vv]ăn hóa|VH|[Dd]ịch vụ|DV|[Kk]huyến nông|[Gg]iáo dục|GDNN|GDTX|[Cc]hính trị|"
    r"[Hh]ành chính|[Pp]hục vụ|[Kk]iểm soát|KSBT|[Tt]ruyền thông|[Tt]hông tin|[Hh]ọc tập|[Bb]ồi dưỡng|"
    r"[Tt]hể thao|[Qq]uan trắc|[Nn]ước sạch|[Pp]hát triển|[Dd]ạy nghề|[Đđ]ăng kiểm|[Cc]hăm sóc|CSKH|PVHCC|"
    r"[Đđ]iều hành|[Hh]uấn luyện"
)

# Tried in order: the first sense whose neighbours fit is read.
SENSES: dict[str, tuple[Sense, ...]] = {
    "BCH": (
        Sense("ban chỉ huy", "BCH trước QS, PCTT, PCCC, PCLB, TKCN hay \"phòng\": ban chỉ huy",
              (followed_by(r"QS|CHQS|[Qq]uân sự|PCTT|PCCC|PCLB|TKCN|[Pp]hòng|PC"),)),
    ),
    "THT": (
        Sense("tụ huyết trùng", "THT sau \"bệnh\", \"phòng\", \"vắc-xin\" hoặc trong câu về tiêm phòng gia súc",
              (preceded_by(r"(?i:bệnh|phòng|vắc[- ]?xin|tiêm)"), followed_by(r"(?i:trâu|bò|lợn|heo|gia cầm|ở)"),
               in_sentence(_VETERINARY))),
        Sense("tổ hợp tác", "THT trong câu về hợp tác xã, kinh tế tập thể", (in_sentence(_COOPERATIVE),)),
    ),
    "HS": (
        Sense("hồ sơ", "HS sau \"nộp\", \"tiếp nhận\", \"bổ sung\"... hoặc trước \"xin\", \"hợp lệ\": hồ sơ",
              (preceded_by(r"(?i:nộp|tiếp nhận|nhận|trả|hoàn thiện|hoàn chỉnh|bổ sung|thành phần|bộ|lập|"
                           r"xét duyệt|thẩm định|chuẩn bị|kèm theo|đủ|giải quyết)"),
               followed_by(r"(?i:xin|đề nghị|dự tuyển|hợp lệ|gồm|nhập ngũ|sức khỏe|đăng ký (?:kết hôn|khai sinh|"
                           r"khai tử|thường trú|tạm trú|kinh doanh|đất đai|biến động))"))),
    ),
    "KH": (
        Sense("khách hàng", "\"Quý KH\", \"KH sử dụng điện\": khách hàng",
              (preceded_by(r"Quý|quý"),
               followed_by(r"(?i:sử dụng|dùng điện|có nhu cầu|vui lòng|thông cảm|chủ động|thanh toán)"),
               all_of(preceded_by(r"(?i:các|những|tới|đến)"), in_sentence(_UTILITY)))),
    ),
    "CT": (
        Sense("chủ tịch", "CT trước UBND, HĐND, MTTQ, Hội, xã...: chủ tịch", (followed_by(_ORGANISATIONS),)),
        Sense("chỉ thị", "CT trước số văn bản: chỉ thị", (followed_by(r"(?:số\s*)?\d"),)),
    ),
    "TT": (
        Sense("trung tâm", "TT trước tên một trung tâm (Y tế, Văn hóa, Dịch vụ...): trung tâm",
              (followed_by(_CENTRES),)),
    ),
    "BĐ": (
        Sense("bưu điện", "BĐ trước \"xã\", \"văn hóa\" hay một địa danh: bưu điện",
              (followed_by(r"xã|huyện|tỉnh|[Vv]ăn hóa|VHX|Việt Nam|VN"), followed_by_name())),
    ),
    "ĐH": (
        Sense("đại hội", "ĐH trước số La Mã, \"Đảng\", \"đại biểu\", \"nhiệm kỳ\": đại hội",
              (followed_by(r"[IVXLC]+|[Đđ]ảng|[Đđ]ại biểu|[Đđ]oàn|[Hh]ội|[Cc]hi bộ|[Cc]ông đoàn|MTTQ|TDTT|lần|"
                           r"nhiệm kỳ|[Tt]hể dục"),)),
        Sense("đại học", "ĐH sau \"trường\", \"thi\", \"vào\" hoặc trước tên trường: đại học",
              (preceded_by(r"(?i:trường|thi|vào|học|tuyển sinh|tốt nghiệp|sinh viên|hệ)"),
               followed_by(r"Quốc gia|Y|Sư phạm|Nông Lâm|Nông nghiệp|Bách khoa|Kinh tế|Luật|Thái Nguyên|Huế|"
                           r"Vinh|Cần Thơ|Đà Nẵng|Công nghiệp|Thủy lợi|Lâm nghiệp|Hàng hải|Mở"))),
    ),
    "ĐX": (Sense("Đông Xuân", "\"vụ ĐX\": vụ Đông Xuân", (preceded_by(r"(?i:vụ|lúa|gieo cấy|gieo trồng)"),)),),
    "HT": (Sense("Hè Thu", "\"vụ HT\": vụ Hè Thu", (preceded_by(r"(?i:vụ|lúa)"),)),),
    "BS": (
        Sense("binh sĩ", "BS sau \"HSQ\" hay \"hạ sĩ quan\": binh sĩ",
              (preceded_by(r"(?:HSQ|[Hh]ạ sĩ quan)\s*(?:[,&-]|và)?"),)),
    ),
    "MN": (
        Sense("miền núi", "MN sau \"vùng\", \"huyện\", \"dân tộc thiểu số và\": miền núi",
              (preceded_by(r"(?i:vùng|khu vực|huyện|tỉnh|đồng bào|DTTS|dân tộc thiểu số)\s*(?:&|và|,)?"),)),
    ),
    "TN": (
        Sense("tốt nghiệp", "\"thi TN\", \"TN THPT\": tốt nghiệp",
              (preceded_by(r"(?i:thi|xét)"), followed_by(r"THPT|[Tt]rung học"))),
    ),
    "CĐ": (
        Sense("cao đẳng", "CĐ sau \"trường\", \"hệ\" hoặc trước tên trường: cao đẳng",
              (preceded_by(r"(?i:trường|hệ|học|thi|tuyển sinh|trình độ)"),
               followed_by(r"Y|Sư phạm|[Nn]ghề|Kỹ thuật|Cộng đồng|Công nghệ|Kinh tế"))),
        Sense("công đoàn", "CĐ trước \"cơ sở\", \"ngành\", \"viên\" hoặc sau \"ban chấp hành\": công đoàn",
              (followed_by(r"xã|cơ sở|ngành|viên|huyện|phường|giáo dục|trường"),
               preceded_by(r"BCH|[Bb]an chấp hành|[Cc]hủ tịch"))),
    ),
    "PC": (
        Sense("công ty điện lực", "PC trước một địa danh trong tin về điện: công ty điện lực",
              (all_of(followed_by_name(), in_sentence(r"(?i:điện)")),)),
    ),
    "KL": (
        Sense("kiểm lâm", "KL sau \"hạt\", \"chi cục\", \"lực lượng\": kiểm lâm",
              (preceded_by(r"(?i:hạt|chi cục|lực lượng|cán bộ|trạm)"),)),
    ),
    "NN": (
        Sense("nông nghiệp", "NN sau \"ngành\", \"sản xuất\", \"phòng\": nông nghiệp",
              (preceded_by(r"(?i:ngành|sản xuất|SX|khuyến|phòng|sở|bộ)"),)),
    ),
    "CQĐT": (
        Sense("cơ quan điều tra", "CQĐT trong tin của công an (điều tra, tố giác, truy tìm): cơ quan điều tra",
              (in_sentence(r"CA|CSĐT|(?i:công an|điều tra|tố giác|truy tìm|truy nã|vụ việc|đối tượng)"),)),
        Sense("chính quyền điện tử", "CQĐT trong tin chuyển đổi số: chính quyền điện tử",
              (in_sentence(r"CĐS|CNTT|DVC|(?i:chuyển đổi số|chính quyền số|trực tuyến|điện tử|công nghệ|"
                           r"ứng dụng|phần mềm|ký số|văn bản)"),)),
    ),
    "CN": (
        Sense("chăn nuôi", "CN sau \"ngành\", \"trồng trọt và\": chăn nuôi",
              (preceded_by(r"(?i:ngành|trồng trọt\s*(?:,|và|&)?)"),)),
    ),
}

_KEYS = re.compile(
    r"(?<![\w/.-])(" + "|".join(sorted(map(re.escape, SENSES), key=len, reverse=True)) + r")(?![^\W\d_]|-[^\W\d_]|&)"
)


def sense_at(text: str, start: int, end: int) -> Sense | None:
    """The sense the neighbours of text[start:end] choose, or None."""
    for sense in SENSES.get(text[start:end], ()):
        if sense.fits(text, start, end):
            return sense
    return None


def read_by_neighbours(text: str) -> str:
    """Read each ambiguous abbreviation in the sense its neighbours choose; leave it when none does."""

    def spoken(match: re.Match[str]) -> str:
        sense = sense_at(match.string, match.start(1), match.end(1))
        if sense is None:
            return match.group(0)
        glued = match.string[match.end() : match.end() + 1]
        return f"{sense.spoken} " if glued.isalnum() else sense.spoken

    return _KEYS.sub(spoken, text)
