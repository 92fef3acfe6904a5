"""The lexicon: built-in entries, matching rules, and commune files that extend it."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.errors import InvalidInput, NotFound
from broadcaster.text import Lexicon, LexiconMalformed, LexiconNotFound, load_lexicon, normalize
from broadcaster.text.lexicon import builtin_lexicon, parse_lexicon


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_builtin_lexicon_is_big_enough_and_covers_the_families(lexicon: Lexicon) -> None:
    assert len(lexicon) >= 80
    for key in ("UBND", "HĐND", "MTTQ", "TP.", "TX.", "Q.", "P.", "X.", "HND", "HLHPN", "ĐTNCS", "HCCB", "HCT",
                "NTM", "XDNTM", "BHYT", "BHXH", "QĐ", "CV", "TB", "KH", "NĐ", "TT", "NĐ-CP", "TT-BTTTT",
                "TYT", "TTYT", "BV", "BS", "THCS", "THPT", "MN", "CA", "CAX", "PCCC", "ANTT", "PCTT&TKCN",
                "BCH QS", "HTX", "KDC", "TDP", "ĐVT"):
        assert key in lexicon, key


def test_case_decides_between_abbreviation_and_word(lexicon: Lexicon) -> None:
    assert lexicon.expand("CA xã") == "công an xã"
    assert lexicon.expand("ca trực, Ca sáng") == "ca trực, Ca sáng"
    # In a heading written in capitals, a syllable-like key is the word, not the abbreviation.
    assert lexicon.expand("LỊCH CA TRỰC") == "LỊCH CA TRỰC"
    assert lexicon.expand("CA XÃ") == "CA XÃ"


def test_word_boundaries_and_longest_match(lexicon: Lexicon) -> None:
    assert lexicon.expand("UBNDX") == "UBNDX"
    assert lexicon.expand("XDNTM") == "xây dựng nông thôn mới"
    assert lexicon.expand("NĐ-CP") == "nghị định chính phủ"
    assert lexicon.expand("BCH  QS") == "ban chỉ huy quân sự"  # any whitespace inside a key


def test_dotted_keys_only_before_a_name_or_number(lexicon: Lexicon) -> None:
    assert lexicon.expand("P. Tân Phong, P.5") == "phường Tân Phong, phường 5"
    assert lexicon.expand("anh H. cho biết") == "anh H. cho biết"
    assert lexicon.expand("gặp ở TT.") == "gặp ở thông tư."


def test_lower_case_keys_match_any_capitalisation(lexicon: Lexicon) -> None:
    assert lexicon.expand("email, Email, EMAIL") == "i-meo, I-meo, i-meo"
    assert lexicon.expand("Đ/C Lan") == "đồng chí Lan"


def test_commune_file_adds_and_overrides(tmp_path: Path) -> None:
    commune = _write(
        tmp_path / "xa-phu-thinh.tsv",
        "# từ điển riêng của xã Phú Thịnh",
        "Tx. Sơn Tây\tthị xã Sơn Tây",
        "HTX\thợp tác xã nông nghiệp\tghi đè mục có sẵn",
        "Kẻ Nủa\tKẻ Nủa",
        "thôn Đoài\tthôn Đoài",
        "Yên Hoà\tYên Hòa",
        "",
    )
    lexicon = load_lexicon([commune])
    assert normalize("Tx. Sơn Tây và HTX", lexicon) == "thị xã Sơn Tây và hợp tác xã nông nghiệp"
    assert normalize("UBND xã", lexicon) == "ủy ban nhân dân xã"  # built-in entries remain
    assert lexicon.sources[-1] == str(commune)
    # Keys meet the text in one tone style: "Yên Hòa" in the text matches the "Yên Hoà" entry.
    assert "Yên Hòa" in lexicon
    assert normalize("HTX", load_lexicon()) == "hợp tác xã"  # the built-in lexicon is untouched


def test_later_files_override_earlier_ones(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.tsv", "KDC\tkhu dân cư số một")
    second = _write(tmp_path / "b.tsv", "KDC\tkhu dân cư kiểu mẫu")
    assert normalize("KDC", load_lexicon([first, second])) == "khu dân cư kiểu mẫu"
    assert normalize("KDC", load_lexicon([second, first])) == "khu dân cư số một"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("UBND", "2 hoặc 3 cột"),
        ("UBND\tủy ban\tghi chú\tthừa", "2 hoặc 3 cột"),
        ("UBND\t  ", "thiếu"),
        ("&amp\tvà", "phải bắt đầu"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = _write(tmp_path / "xa.tsv", "# chú thích", "HTX\thợp tác xã", line)
    with pytest.raises(LexiconMalformed) as raised:
        load_lexicon([path])
    assert isinstance(raised.value, InvalidInput)
    assert raised.value.code == "lexicon_malformed"
    assert str(path) in raised.value.message and "dòng 3" in raised.value.message
    assert reason in raised.value.message


def test_missing_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(LexiconNotFound) as raised:
        load_lexicon([tmp_path / "khong-co.tsv"])
    assert isinstance(raised.value, NotFound) and raised.value.code == "lexicon_not_found"
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("HTX\thợp tác xã\n".encode() + "Ca\tcà phê\n".encode("latin-1"))
    with pytest.raises(LexiconMalformed, match="dòng 2"):
        load_lexicon([latin1])


def test_builtin_file_parses_without_duplicates() -> None:
    source = Path(__file__).parents[2] / "broadcaster" / "text" / "data" / "abbreviations.tsv"
    lines = source.read_text(encoding="utf-8").splitlines()
    keys = [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]
    assert len(keys) == len(set(keys)), "a key is listed twice"
    assert parse_lexicon(lines, "abbreviations.tsv") == dict(builtin_lexicon().entries)


def test_every_builtin_entry_names_a_source_or_note() -> None:
    source = Path(__file__).parents[2] / "broadcaster" / "text" / "data" / "abbreviations.tsv"
    rows = [line.split("\t") for line in source.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    assert len(rows) >= 400
    missing = [row[0] for row in rows if len(row) != 3 or not row[2].strip()]
    assert not missing, f"entries without a source or note: {missing}"


@pytest.mark.parametrize(
    ("written", "spoken"),
    [("CĐS", "chuyển đổi số"), ("LMLM", "lở mồm long móng"), ("DTLCP", "dịch tả lợn châu Phi"),
     ("VDNC", "viêm da nổi cục"), ("TBA", "trạm biến áp"), ("NVQS", "nghĩa vụ quân sự"),
     ("PTDTBT", "phổ thông dân tộc bán trú"), ("ATNĐ", "áp thấp nhiệt đới"), ("DVCTT", "dịch vụ công trực tuyến"),
     ("TTHC", "thủ tục hành chính"), ("GPLX", "giấy phép lái xe"), ("CAND", "công an nhân dân")],
)
def test_domain_abbreviations_of_the_offices(written: str, spoken: str, lexicon: Lexicon) -> None:
    assert lexicon.expand(written) == spoken


def test_a_key_glued_to_digits_is_a_code_unless_it_names_a_numbered_thing(lexicon: Lexicon) -> None:
    assert normalize("giống lúa BC15", lexicon) == "giống lúa bê xê mười lăm"
    assert normalize("trên BĐ3", lexicon) == "trên báo động ba"
    assert normalize("Luật số 45/2013/QH13", lexicon).endswith("quốc hội mười ba")
