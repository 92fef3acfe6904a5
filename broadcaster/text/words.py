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
PER = "trên"  # so many out of so many: 19/19 tiêu chí = mười chín trên mười chín (rates use RATE)
WITHIN = "trong"  # 100 mm/24h = một trăm mi-li-mét trong hai mươi bốn giờ
RANGE = "đến"  # 5-7 = năm đến bảy
TIMES = "nhân"  # ảnh 3x4 = ảnh ba nhân bốn

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
# Before "hạng N" these make it a category, read as a number: "dự bị hạng 1" = hạng một.
CATEGORY_BEFORE_RANK: frozenset[str] = frozenset({"bị", "binh"})

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
# Before "d-m" these make it a holiday date, not a range ("Quốc khánh 2-9" = hai tháng chín):
# announcers never say "hai đến chín" there. Looked for in the same clause, before the date.
HOLIDAY_CONTEXT = r"\bNgày [A-ZĐ]|[Qq]uốc khánh|\b[Dd]ịp\b|\b[Ll]ễ\b|[Kk]ỷ niệm|[Cc]hào mừng|[Hh]ưởng ứng"
# Words after "d-m" that make it a range of counts ("kỷ niệm 5-10 năm"), not a holiday.
RANGE_FOLLOWERS: frozenset[str] = frozenset({"năm", "tháng", "ngày", "tuổi", "giờ", "phút", "lần", "người", "km"})
# Words after a small "a/b" that make it a fraction ("1/2 số hộ") rather than a date.
FRACTION_FOLLOWERS: frozenset[str] = frozenset(
    {"số", "diện", "tổng", "dân", "lượng", "trong", "các", "quãng", "chiều", "thời",
     # a part of a measured thing: "trẻ 6-11 tháng uống 1/2 viên"
     "viên", "liều", "cốc", "chén", "thìa", "bát", "lít", "quả", "gói", "ống", "suất", "kg", "ha", "sào", "mẫu"}
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

# Previous words after which an upper-case Roman numeral is a number (quý I, khóa XV,
# thế kỷ XXI, Đại hội XIII, lần thứ IV). Anywhere else "I", "V", "C" stay letters.
ROMAN_CONTEXT: frozenset[str] = frozenset(
    {
        "quý", "khóa", "kỷ", "kỉ", "hội", "thứ", "chương", "phần", "mục", "tập", "đoạn",
        "quận", "đợt", "kỳ", "kì", "cấp", "loại", "hạng", "vòng", "phụ", "lục", "vùng", "khu",
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
    "kW": "ki-lô-oát", "kWh": "ki-lô-oát giờ", "kWp": "ki-lô-oát đỉnh", "kVA": "ki-lô-vôn-am-pe",
    "MVA": "mê-ga-vôn-am-pe", "W": "oát", "MW": "mê-ga-oát", "MWh": "mê-ga-oát giờ",
    "V": "vôn", "kV": "ki-lô-vôn", "mmHg": "mi-li-mét thủy ngân",
    "°C": "độ xê", "độ C": "độ xê", "°": "độ",
    "%": "phần trăm", "‰": "phần nghìn", "Mbps": "mê-ga-bít mỗi giây", "Gbps": "gi-ga-bít mỗi giây",
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

# Vietnamese names of Latin letters, used when an unknown acronym has to be spelled. These are
# the names announcers use on air: "O" is "ô" (WHO = vê kép hát ô, OTP = ô tê pê), as in ODA,
# "L/M/N/R" are "lờ/mờ/nờ/rờ" (PCR = pê xê rờ), "S" is "ét", "X" is "ích".
LETTER_NAMES: dict[str, str] = {
    "A": "a", "Ă": "á", "Â": "ớ", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e", "Ê": "ê",
    "F": "ép", "G": "giê", "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "lờ", "M": "mờ",
    "N": "nờ", "O": "ô", "Ô": "ô", "Ơ": "ơ", "P": "pê", "Q": "quy", "R": "rờ", "S": "ét", "T": "tê",
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
SPOKEN_SYMBOLS: dict[str, str] = {"&": "và", "@": "a còng", "%": "phần trăm", "‰": "phần nghìn"}

# Road codes read before a road number (roads.py): "QL1A" = quốc lộ một a.
ROAD_CODES: dict[str, str] = {
    "QL": "quốc lộ", "TL": "tỉnh lộ", "ĐT": "đường tỉnh", "ĐH": "đường huyện", "ĐX": "đường xã",
    "HL": "hương lộ", "ĐCT": "đường cao tốc", "CT": "xê tê", "ĐĐT": "đường đô thị",
}
# Codes that mean something else before a telephone number ("ĐT: 0912...", "gọi ĐT 113").
AMBIGUOUS_ROAD_CODES: frozenset[str] = frozenset({"ĐT"})
# Codes that are a road only when written with a dot ("CT.01"); "CT 15" is more likely chỉ thị 15.
DOTTED_ROAD_CODES: frozenset[str] = frozenset({"CT"})
PLATE_DOT = "chấm"  # 20A-123.45 = hai mươi a, một hai ba chấm bốn năm

# Mobile network generations: 4G = bốn giê.
GENERATION_LETTER = "giê"
# Version numbers: 2.1.3 = hai chấm một chấm ba (a dot in a version is "chấm", never "phẩy").
VERSION_DOT = "chấm"
# Words after which a dotted number is a version even with two parts ("phiên bản 2.1").
VERSION_CONTEXT: frozenset[str] = frozenset(
    {"bản", "version", "ver", "v", "vneid", "ios", "android", "windows", "zalo", "web", "firmware"}
)
ETC = "vân vân"  # v.v.

# Rates: every "quantity unit/unit" reads the slash as "mỗi" (60 tạ/ha = sáu mươi tạ mỗi héc-ta,
# 500.000đ/hộ/tháng = ... đồng mỗi hộ mỗi tháng, 60 km/h = sáu mươi ki-lô-mét mỗi giờ). "trên"
# also means "above/on" and "một" is also the number one; "mỗi" can only mean "per".
RATE = "mỗi"
# What may stand after the slash of a rate (read through UNITS/PER_UNITS when abbreviated).
RATE_DENOMINATORS: frozenset[str] = frozenset(
    {
        "h", "giờ", "s", "giây", "ph", "phút", "ngày", "tuần", "tháng", "quý", "năm", "vụ", "lứa", "đợt",
        "lần", "km", "km2", "m", "m2", "m²", "m3", "m³", "ha", "sào", "mẫu", "kg", "tấn", "tạ", "yến", "lít",
        "l", "người", "hộ", "khẩu", "trẻ", "cháu", "em", "học", "lớp", "xã", "thôn", "bản", "con", "cây",
        "ca", "buổi", "lượt", "chuyến", "suất", "liều", "bình", "bao", "chai", "gói", "túi", "chiếc",
        "xe", "hecta", "héc-ta", "kWh", "kW", "kVA", "HS", "SV", "hs",
    }
)
TIME_UNITS: frozenset[str] = frozenset({"h", "giờ", "s", "giây", "ph", "phút", "ngày", "tuần", "tháng", "năm"})
# Money before a slash: a price per anything written after it ("đồng/thẻ", "triệu/m2").
MONEY_UNITS: frozenset[str] = frozenset({"đồng", "đ", "nghìn", "triệu", "tỷ", "k", "USD", "VNĐ", "VND"})
# Units that may stand before the slash of a rate without a number ("đồng/kg", "tạ/ha").
RATE_NUMERATORS: frozenset[str] = frozenset(
    {"đồng", "đ", "nghìn", "triệu", "tỷ", "k", "tạ", "tấn", "yến", "kg", "g", "km", "m", "m3", "lít", "l",
     "con", "cây", "liều", "lượt", "người", "mm", "kWh", "%"}
)

# Addresses: after these words "a/b" is a house or lane number, read "a trên b"
# ("số 12/3" = số mười hai trên ba, "ngõ 5/2"), never a date. Southern communes that say
# "xuyệt" can change ADDRESS_SLASH.
ADDRESS_WORDS: tuple[str, ...] = ("số nhà", "số", "nhà", "ngõ", "ngách", "hẻm", "kiệt", "tổ", "khóm", "lô")
ADDRESS_SLASH = "trên"
# Streets and squares named after a date: "đường 3/2" = đường ba tháng hai (no "ngày").
DATE_NAMED_PLACES: frozenset[str] = frozenset({"đường", "phố", "trường"})

# Document codes (documents.py): the first part after a document number is the type of document,
# the later parts the issuer. The position decides ambiguous codes: "05-CT/TU" = chỉ thị,
# "TT-BCT" = Bộ Công Thương, "TT-BTC" = Bộ Tài chính (types from Nghị định 30/2020/NĐ-CP).
DOCUMENT_TYPES: dict[str, str] = {
    "NQ": "nghị quyết", "QĐ": "quyết định", "CT": "chỉ thị", "QC": "quy chế", "QyĐ": "quy định",
    "TC": "thông cáo", "TB": "thông báo", "HD": "hướng dẫn", "CTr": "chương trình", "KH": "kế hoạch",
    "PA": "phương án", "ĐA": "đề án", "DA": "dự án", "BC": "báo cáo", "BB": "biên bản", "TTr": "tờ trình",
    "HĐ": "hợp đồng", "CĐ": "công điện", "GN": "bản ghi nhớ", "TTh": "bản thỏa thuận",
    "GUQ": "giấy ủy quyền", "GM": "giấy mời", "GGT": "giấy giới thiệu", "NĐ": "nghị định",
    "TT": "thông tư", "TTLT": "thông tư liên tịch", "KL": "kết luận", "CV": "công văn"
}
ISSUERS: dict[str, str] = {
    "CP": "chính phủ", "TTg": "thủ tướng", "BTC": "bộ tài chính", "BCT": "bộ công thương",
    "TW": "trung ương", "TU": "tỉnh ủy", "HU": "huyện ủy", "ĐU": "đảng ủy", "VP": "văn phòng",
    "BCĐ": "ban chỉ đạo", "CA": "công an",
    "BCH": "ban chỉ huy",  # in codes the military command writes BCH; a ban chấp hành writes ĐTN, HND, ĐU...
    "TCKH": "tài chính kế hoạch",
    "VHXH": "văn hóa xã hội", "VX": "văn xã", "KT": "kinh tế", "ĐC": "địa chính", "NV": "nội vụ",
    "TCCB": "tổ chức cán bộ", "BCĐTW": "ban chỉ đạo trung ương", "BTGTU": "ban tuyên giáo tỉnh ủy", "BDVTU": "ban dân vận tỉnh ủy",
    "BTCTU": "ban tổ chức tỉnh ủy",
}

# Lexicon keys that may be followed directly by a number ("BĐ2" = báo động hai, "QH15", "QK3");
# any other key glued to digits is a code ("BC15", a rice variety) and is spelled.
NUMBERED_ABBREVIATIONS: frozenset[str] = frozenset(
    {"BĐ", "QH", "QK", "QL", "TL", "Km", "TDP", "KDC", "KP", "KV", "HTX", "TYT", "THCS", "THPT", "TH", "MN"}
)
# Units read after "mỗi" without a number: "Mỗi ha lúa cần..." = mỗi héc-ta.
UNITS_AFTER_EACH: tuple[str, ...] = ("ha", "kg", "km", "m2", "m3", "sào")

# Before a zero-padded number (with or without "số") these make it a document's identifier, said
# with its zero: "Đề án 06" =
# đề án không sáu, "Chỉ thị số 05" = chỉ thị số không năm (a count "05 người" stays "năm người").
IDENTIFIER_WORDS: tuple[str, ...] = (
    "đề án", "chỉ thị", "nghị quyết", "quyết định", "kế hoạch", "công văn", "thông báo", "kết luận",
    "nghị định", "thông tư", "công điện", "hướng dẫn", "tờ trình", "báo cáo", "chương trình",
)
