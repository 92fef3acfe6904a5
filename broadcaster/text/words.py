"""Word tables for reading Vietnamese text aloud: pure data, no logic.

Kept apart from the rules (as gTTS keeps ``symbols.py``) so a reviewer who speaks Vietnamese
can check the readings without reading code. The abbreviation lexicon lives in
``data/abbreviations.tsv`` because communes extend it with files of the same shape.
"""

from __future__ import annotations

DIGITS: tuple[str, ...] = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Inside numbers: 101 = "một trăm linh một". "lẻ" is the other standard choice; announcers of
# the national radio use "linh", so it is our default.
ZERO_TENS = "linh"
HUNDRED = "trăm"
TEN = "mười"
TENS = "mươi"
ONE_AFTER_TENS = "mốt"  # 21 = hai mươi mốt (but 11 = mười một)
FIVE_AFTER_TENS = "lăm"  # 15 = mười lăm, 25 = hai mươi lăm (but 105 = một trăm linh năm)
THOUSAND = "nghìn"
MILLION = "triệu"
BILLION = "tỷ"
DECIMAL_POINT = "phẩy"
NEGATIVE = "âm"
FRACTION = "phần"  # 1/2 = một phần hai
PER = "trên"  # 60 km/h = sáu mươi ki-lô-mét trên giờ; 19/19 = mười chín trên mười chín
WITHIN = "trong"  # 100 mm/24h = một trăm mi-li-mét trong hai mươi bốn giờ
RANGE = "đến"  # 5-7 = năm đến bảy

# Month names differ from the cardinals only for April ("tháng tư"). January is "tháng một"
# in the solar calendar; "tháng giêng" (and "tháng chạp" for 12) belong to the lunar calendar.
MONTHS: dict[int, str] = {
    1: "một", 2: "hai", 3: "ba", 4: "tư", 5: "năm", 6: "sáu",
    7: "bảy", 8: "tám", 9: "chín", 10: "mười", 11: "mười một", 12: "mười hai",
}

# "thứ N": the ordinal forms that differ from the cardinal. Weekdays use the same table
# (thứ hai ... thứ bảy), since no weekday is "thứ nhất".
ORDINALS: dict[int, str] = {1: "nhất", 4: "tư"}
# Ranks and prizes: "giải nhì", "hạng nhì" (not "hai").
RANKS: dict[int, str] = {1: "nhất", 2: "nhì", 4: "tư"}
ORDINAL_WORDS: tuple[str, ...] = ("thứ",)
RANK_WORDS: tuple[str, ...] = ("hạng", "giải")

WEEKDAY_ABBREVIATIONS: dict[str, str] = {
    "T2": "thứ hai", "T3": "thứ ba", "T4": "thứ tư", "T5": "thứ năm",
    "T6": "thứ sáu", "T7": "thứ bảy", "CN": "chủ nhật",
}
# A preceding word that makes T2..T7/CN a weekday rather than a code or "công nhân".
WEEKDAY_CONTEXT: frozenset[str] = frozenset(
    {"sáng", "chiều", "tối", "trưa", "đêm", "ngày", "hôm", "vào", "các", "mỗi", "từ", "đến", "hằng", "hàng"}
)
TIMES_OF_DAY: frozenset[str] = frozenset({"sáng", "trưa", "chiều", "tối", "đêm"})
# A word before d/m that already says "this is a date": no "ngày" is inserted after it.
DATE_WORDS: frozenset[str] = frozenset({"ngày", "hôm", "mồng", "mùng"})
# Words before "24/7" that make it a date ("sáng 24/7") rather than "hai mươi bốn trên bảy".
DATE_CONTEXT: frozenset[str] = DATE_WORDS | frozenset(
    {"sáng", "chiều", "tối", "trưa", "đêm", "từ", "đến", "và", "trước", "sau", "nay", "lúc"}
)
# Words after a small "a/b" that make it a fraction ("1/2 số hộ") rather than a date.
FRACTION_FOLLOWERS: frozenset[str] = frozenset(
    {"số", "diện", "tổng", "dân", "lượng", "trong", "các", "quãng", "chiều", "thời"}
)
# Counted things after "a/b" that make it a score of so many out of so many ("3/5 thôn",
# "19/19 tiêu chí" = ba trên năm thôn) rather than a date.
COUNTED_NOUNS: frozenset[str] = frozenset(
    {
        "thôn", "xóm", "bản", "ấp", "làng", "tổ", "xã", "phường", "huyện", "tỉnh", "hộ", "người",
        "tiêu", "chỉ", "trường", "lớp", "học", "em", "cháu", "đơn", "cơ", "trạm", "cụm", "khu",
        "điểm", "nhóm", "đội", "chi", "thành", "đảng", "đoàn", "hội", "câu", "phiếu", "đại", "mục",
        "nội", "công", "dự", "gia", "mô", "lượt", "chiếc", "con", "cây", "ha", "km", "tuyến",
    }
)
# Comparison signs before a number: "người >60 tuổi" = người trên sáu mươi tuổi.
COMPARISONS: dict[str, str] = {">=": "từ", "≥": "từ", "<=": "không quá", "≤": "không quá", ">": "trên", "<": "dưới"}
# A price or rate per thing: "500.000đ/hộ/tháng" = năm trăm nghìn đồng một hộ một tháng.
MONEY_WORDS: tuple[str, ...] = ("đồng", "nghìn", "triệu", "tỷ")

# Previous words after which an upper-case Roman numeral is a number (quý I, khóa XV,
# thế kỷ XXI, Đại hội XIII, lần thứ IV). Anywhere else "I", "V", "C" stay letters.
ROMAN_CONTEXT: frozenset[str] = frozenset(
    {
        "quý", "khóa", "kỷ", "kỉ", "hội", "thứ", "chương", "phần", "mục", "tập", "đoạn",
        "quận", "đợt", "kỳ", "kì", "cấp", "loại", "hạng", "vòng", "phụ", "lục",
    }
)

# Words after which a 3-5 digit number is a telephone number read digit by digit.
PHONE_CONTEXT: tuple[str, ...] = (
    "gọi", "tổng đài", "đường dây nóng", "hotline", "điện thoại", "SĐT", "ĐT", "liên hệ", "số máy",
)
# Filler words allowed between that context and the number ("gọi ngay số 113").
PHONE_FILLERS: frozenset[str] = frozenset({"ngay", "số", "đến", "tới", "cho", "vào", "qua", "máy"})
PHONE_PLUS = "cộng"

# Units after a number: written form -> spoken form. Case matters (m = mét, M is not a unit).
UNITS: dict[str, str] = {
    "km": "ki-lô-mét", "km2": "ki-lô-mét vuông", "km²": "ki-lô-mét vuông",
    "m": "mét", "m2": "mét vuông", "m²": "mét vuông", "m3": "mét khối", "m³": "mét khối",
    "dm": "đề-xi-mét", "cm": "xen-ti-mét", "cm2": "xen-ti-mét vuông", "cm²": "xen-ti-mét vuông",
    "mm": "mi-li-mét",
    "ha": "héc-ta",
    "kg": "ki-lô-gam", "g": "gam", "mg": "mi-li-gam",
    "l": "lít", "lít": "lít", "ml": "mi-li-lít",
    "kW": "ki-lô-oát", "kWh": "ki-lô-oát giờ", "W": "oát", "MW": "mê-ga-oát", "MWh": "mê-ga-oát giờ",
    "V": "vôn", "kV": "ki-lô-vôn",
    "°C": "độ xê", "độ C": "độ xê", "°": "độ",
    "%": "phần trăm",
}
# Units that may follow a "/" after a unit: m3/s, km/h, mm/ngày.
PER_UNITS: dict[str, str] = {
    "h": "giờ", "giờ": "giờ", "s": "giây", "giây": "giây", "ph": "phút", "phút": "phút",
    "ngày": "ngày", "tháng": "tháng", "năm": "năm",
    "km": "ki-lô-mét", "m": "mét", "m2": "mét vuông", "m²": "mét vuông", "ha": "héc-ta",
    "kg": "ki-lô-gam", "l": "lít", "lít": "lít",
}

# Money: a number followed by one of these is read "<number> đồng".
DONG_SYMBOLS: tuple[str, ...] = ("đồng", "VNĐ", "VND", "vnđ", "vnd", "đ")
DONG = "đồng"
DOLLAR = "đô la"
DOLLAR_SYMBOLS: tuple[str, ...] = ("USD", "usd")
THOUSAND_SUFFIX = "k"  # 50k = năm mươi nghìn
# "đồng/kg" is said "đồng một ki-lô-gam": a price per thing.
PRICE_PER = "một"

# Vietnamese names of Latin letters, used when an unknown acronym has to be spelled.
LETTER_NAMES: dict[str, str] = {
    "A": "a", "Ă": "á", "Â": "ớ", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e", "Ê": "ê",
    "F": "ép", "G": "giê", "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "lờ", "M": "mờ",
    "N": "nờ", "O": "o", "Ô": "ô", "Ơ": "ơ", "P": "pê", "Q": "quy", "R": "rờ", "S": "ét", "T": "tê",
    "U": "u", "Ư": "ư", "V": "vê", "W": "vê kép", "X": "ích", "Y": "i", "Z": "dét",
}

# Parts of web addresses and e-mail addresses with a settled Vietnamese reading.
WEB_WORDS: dict[str, str] = {
    "www": "vê kép vê kép vê kép", "vn": "vê en", "com": "com", "gov": "gốp", "net": "nét",
    "org": "o rờ gờ", "edu": "ê đu", "info": "in-phô", "gmail": "gờ meo", "yahoo": "da-hu",
    "outlook": "ao-lúc", "zalo": "da-lô", "facebook": "phây-búc", "youtube": "diu-túp",
    "dichvucong": "dịch vụ công", "chinhphu": "chính phủ", "baohiemxahoi": "bảo hiểm xã hội",
}
WEB_SEPARATORS: dict[str, str] = {
    ".": "chấm", "/": "gạch chéo", "-": "gạch ngang", "_": "gạch dưới", "@": "a còng", ":": "hai chấm",
}

# Symbols with a spoken form once numbers and units have been read.
SPOKEN_SYMBOLS: dict[str, str] = {"&": "và", "@": "a còng", "%": "phần trăm"}
