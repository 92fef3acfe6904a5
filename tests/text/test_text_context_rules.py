"""The rules added for real bulletins: neighbours decide abbreviations, roads, addresses, rates, versions."""

from __future__ import annotations

import pytest

from broadcaster.text import Lexicon, normalize
from broadcaster.text.addresses import read_house_numbers
from broadcaster.text.quantities import read_rates
from broadcaster.text.restatements import drop_restated_abbreviations
from broadcaster.text.roads import read_kilometre_markers, read_number_plates, read_road_codes
from broadcaster.text.senses import SENSES, read_by_neighbours, sense_at
from broadcaster.text.spelling import spell_letters
from broadcaster.text.versions import read_etc, read_mobile_generations, read_versions


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        # ĐT: a road before a road number, a telephone before a phone number or after a calling word.
        ("tuyến ĐT 391 bị sạt lở", "tuyến đường tỉnh ba trăm chín mươi mốt bị sạt lở"),
        ("tuyến ĐT.391 bị sạt lở", "tuyến đường tỉnh ba trăm chín mươi mốt bị sạt lở"),
        ("ĐT: 0912345678", "điện thoại: không chín một hai, ba bốn năm, sáu bảy tám"),
        ("liên hệ ĐT 113", "liên hệ điện thoại một một ba"),
        ("QL1A và QL.5", "quốc lộ một a và quốc lộ năm"),
        ("đường ĐH 12", "đường đường huyện mười hai"),
        ("cao tốc CT.01", "cao tốc xê tê không một"),
        ("theo CT 15 của Thủ tướng", "theo chỉ thị mười lăm của Thủ tướng"),
    ],
)
def test_road_codes_against_phones_and_directives(written: str, spoken: str, lexicon: Lexicon) -> None:
    assert normalize(written, lexicon) == spoken


def test_road_rule_alone() -> None:
    assert read_road_codes("ĐT.295B") == "đường tỉnh hai trăm chín mươi lăm bê"
    assert read_road_codes("ĐT 024 3825 1234") == "ĐT 024 3825 1234"  # a landline, not a road
    assert read_road_codes("gọi ĐT 115") == "gọi ĐT 115"


def test_kilometre_markers_and_chainages() -> None:
    assert read_kilometre_markers("từ km 3 đến km 5") == "từ ki-lô-mét ba đến ki-lô-mét năm"
    assert read_kilometre_markers("tại Km15+500") == "tại ki-lô-mét mười lăm cộng năm trăm"
    assert read_kilometre_markers("đê K12+500") == "đê ki-lô-mét mười hai cộng năm trăm"
    assert read_kilometre_markers("cách 5 km 3 thôn") == "cách 5 km 3 thôn"  # a distance, not a marker
    assert read_kilometre_markers("mã K15") == "mã K15"


def test_number_plates() -> None:
    assert read_number_plates("BKS 20A-123.45") == "BKS hai mươi a, một hai ba chấm bốn năm"
    assert read_number_plates("xe 29B1-678.90.") == "xe hai mươi chín bê một, sáu bảy tám chấm chín không."
    assert read_number_plates("xe 29-H1 123.45") == "xe hai mươi chín hát một, một hai ba chấm bốn năm"
    assert read_number_plates("xe 30A-12345") == "xe ba mươi a, một hai ba bốn năm"
    assert read_number_plates("ngày 15-12") == "ngày 15-12"


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("BCH QS xã", "ban chỉ huy quân sự xã"),
        ("BCH Đoàn xã", "ban chấp hành Đoàn xã"),
        ("BCH PCTT&TKCN", "ban chỉ huy phòng chống thiên tai và tìm kiếm cứu nạn"),
        ("nộp HS tại bộ phận một cửa", "nộp hồ sơ tại bộ phận một cửa"),
        ("HS lớp 9", "học sinh lớp chín"),
        ("Quý KH sử dụng điện", "Quý khách hàng sử dụng điện"),
        ("KH số 12", "kế hoạch số mười hai"),
        ("tiêm phòng THT trâu bò", "tiêm phòng tụ huyết trùng trâu bò"),
        ("HTX và các THT liên kết", "hợp tác xã và các tổ hợp tác liên kết"),
        ("CT UBND xã", "chủ tịch ủy ban nhân dân xã"),
        ("TT Y tế huyện", "trung tâm Y tế huyện"),
        ("BĐ xã", "bưu điện xã"),
        ("trên BĐ2", "trên báo động hai"),
        ("ĐH Đảng bộ xã", "đại hội Đảng bộ xã"),
        ("trường ĐH Y", "trường đại học Y"),
        ("vụ ĐX", "vụ Đông Xuân"),
        ("HSQ-BS xuất ngũ", "hạ sĩ quan binh sĩ xuất ngũ"),
        ("HSQ, BS dự bị", "hạ sĩ quan, binh sĩ dự bị"),
        ("BS Nguyễn Văn A", "bác sĩ Nguyễn Văn A"),
        ("vùng DTTS và MN", "vùng dân tộc thiểu số và miền núi"),
        ("trường MN Hoa Sen", "trường mầm non Hoa Sen"),
    ],
)
def test_senses_follow_the_neighbours(written: str, spoken: str, lexicon: Lexicon) -> None:
    assert normalize(written, lexicon) == spoken


def test_without_deciding_neighbours_an_ambiguous_key_is_left_for_spelling(lexicon: Lexicon) -> None:
    assert read_by_neighbours("THT họp") == "THT họp"
    assert normalize("ĐH họp", lexicon) == "đê hát họp"  # no safe default: letters, never a guess
    assert normalize("Bộ Công Thương có CT mới", lexicon) == "Bộ Công Thương có xê tê mới"


def test_every_sense_explains_itself() -> None:
    for key, senses in SENSES.items():
        for sense in senses:
            assert sense.spoken and sense.why and sense.conditions, key
    text = "nộp HS"
    sense = sense_at(text, 4, 6)
    assert sense is not None and sense.spoken == "hồ sơ" and "nộp" in sense.why


def test_house_numbers_keep_dates() -> None:
    assert read_house_numbers("số 12/3 đường Lê Lợi") == "số 12 trên 3 đường Lê Lợi"
    assert read_house_numbers("ngõ 5/2, hẻm 123/45/6") == "ngõ 5 trên 2, hẻm 123 trên 45 trên 6"
    assert read_house_numbers("tổ 3/4") == "tổ 3 trên 4"
    assert read_house_numbers("ngày 12/3") == "ngày 12/3"
    assert read_house_numbers("số 15/2025") == "số 15/2025"  # a year: a document number


def test_addresses_and_dates_in_full(lexicon: Lexicon) -> None:
    assert normalize("số 12/3 đường 3/2", lexicon) == "số mười hai trên ba đường ba tháng hai"
    assert normalize("ngày 12/3", lexicon) == "ngày mười hai tháng ba"


def test_rates_read_the_slash_as_moi() -> None:
    assert read_rates("60 tạ/ha") == "60 tạ mỗi héc-ta"
    assert read_rates("500.000đ/hộ/tháng") == "500.000đ mỗi hộ mỗi tháng"
    assert read_rates("15 kg gạo/HS/tháng") == "15 kg gạo mỗi HS mỗi tháng"
    assert read_rates("30.000 đồng/thẻ") == "30.000 đồng mỗi thẻ"
    assert read_rates("tạ/ha") == "tạ mỗi héc-ta"
    assert read_rates("0,6%/tháng") == "0,6% mỗi tháng"
    assert read_rates("100 mm/24h") == "100 mm trong 24 giờ"  # a time window, not a rate
    assert read_rates("10 ml/4 lít") == "10 ml mỗi 4 lít"
    assert read_rates("anh/chị, nam/nữ, đ/c") == "anh/chị, nam/nữ, đ/c"
    assert read_rates("2/3 hộ") == "2/3 hộ"  # a fraction is not a rate


def test_versions_generations_and_etc() -> None:
    assert read_versions("phiên bản 2.1.3") == "phiên bản hai chấm một chấm ba"
    assert read_versions("phiên bản 2.1") == "phiên bản hai chấm một"
    assert read_versions("Công nghiệp 4.0") == "Công nghiệp bốn chấm không"
    assert read_versions("1.234.567 người, ngày 15.12.2026, 1.5 triệu") == "1.234.567 người, ngày 15.12.2026, 1.5 triệu"
    assert read_mobile_generations("mạng 4G, 5G") == "mạng bốn giê, năm giê"
    assert read_mobile_generations("500g") == "500g"
    assert read_etc("giấy tờ (CCCD, v.v.) để") == "giấy tờ (CCCD, vân vân) để"
    assert read_etc("vật nuôi, v.v. Đề nghị") == "vật nuôi, vân vân. Đề nghị"
    assert read_etc("vật nuôi v.v.") == "vật nuôi vân vân."


def test_letter_names_are_the_announcers() -> None:
    assert spell_letters("WHO") == "vê kép hát ô"
    assert spell_letters("OTP") == "ô tê pê"


def test_restated_abbreviation_is_read_once(lexicon: Lexicon) -> None:
    text = "bệnh Dịch tả lợn châu Phi (DTLCP) đã xuất hiện"
    assert drop_restated_abbreviations(text, lexicon) == "bệnh Dịch tả lợn châu Phi đã xuất hiện"
    kept = "bệnh Tai xanh (PRRS) làm lợn sốt"
    assert drop_restated_abbreviations(kept, lexicon) == kept  # the brackets add a name: read them


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("Bộ TT&TT", "Bộ thông tin và truyền thông"),
        ("Bộ KH&ĐT", "Bộ kế hoạch và đầu tư"),
        ("Bộ KH&CN", "Bộ khoa học và công nghệ"),
        ("Sở NN&MT", "Sở nông nghiệp và môi trường"),
        ("Bộ TC", "Bộ tài chính"),
        ("Thông tư 12/2024/TT-BCT", "Thông tư mười hai năm hai nghìn không trăm hai mươi bốn thông tư bộ công thương"),
        ("Chỉ thị 05-CT/TU", "Chỉ thị không năm chỉ thị tỉnh ủy"),
        ("Công điện số 12/CĐ-TTg", "Công điện số mười hai công điện thủ tướng"),
        ("Đề án 06.", "Đề án không sáu."),
        ("gồm 05 thành viên", "gồm năm thành viên"),
        ("Quốc khánh 2-9", "Quốc khánh hai tháng chín"),
        ("thắng 3-1", "thắng ba một"),
    ],
)
def test_ministries_documents_and_holidays(written: str, spoken: str, lexicon: Lexicon) -> None:
    assert normalize(written, lexicon) == spoken
