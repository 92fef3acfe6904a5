"""``explain``: which rule changed which span, and which spans of the reading are guesses."""

from __future__ import annotations

import pytest
from text_cases import load_cases, load_corpus

from broadcaster.text import Lexicon, normalize
from broadcaster.text.explain import explain

SAMPLE = [case.text for case in load_cases()] + [case.text for case in load_corpus()[::4]]


@pytest.mark.parametrize("chunk", range(8))
def test_explaining_never_changes_the_reading(chunk: int, lexicon: Lexicon) -> None:
    for text in SAMPLE[chunk::8]:
        explanation = explain(text, lexicon)
        assert explanation.spoken == normalize(text, lexicon), text
        assert "".join(piece for piece, _span in explanation.segments()) == explanation.spoken


def test_a_bulletin_at_the_length_limit_is_explained_like_it_is_read(lexicon: Lexicon) -> None:
    from broadcaster.text.throughput import SAMPLE_BULLETIN

    text = ((SAMPLE_BULLETIN + " Mã SGTGT, họp 15/12. ") * 40)[:20_000]
    explanation = explain(text, lexicon)
    assert explanation.spoken == normalize(text, lexicon)
    marked = [explanation.spoken[s.start : s.end] for s in explanation.uncertain]
    assert marked.count("ét giê tê giê tê") >= 35 and all(piece.strip() for piece in marked)


def test_changes_name_rule_span_and_reason(lexicon: Lexicon) -> None:
    changes = explain("Quý KH sử dụng điện, liên hệ ĐT: 0912345678, UBND xã.", lexicon).changes
    by_rule = {(c.rule, c.before): c for c in changes}
    kh = by_rule[("senses.read_by_neighbours", "KH")]
    assert kh.after == "khách hàng" and "Quý" in kh.reason
    ubnd = by_rule[("lexicon.expand", "UBND")]
    assert ubnd.after == "ủy ban nhân dân" and "Luật Tổ chức chính quyền địa phương" in ubnd.reason
    phone = by_rule[("phones.read_phone_numbers", "0912345678")]
    assert phone.after == "không chín một hai, ba bốn năm, sáu bảy tám" and phone.guess is None


def test_guesses_are_marked_in_the_spoken_text(lexicon: Lexicon) -> None:
    explanation = explain("Mã SGTGT, trường hợp F0, họp 15/12, trực 24/7, tỷ lệ 1234/5678; ngày 20/11 nghỉ.", lexicon)
    marked = {explanation.spoken[s.start : s.end]: s for s in explanation.uncertain}
    assert marked["ét giê tê giê tê"].written == "SGTGT" and marked["ét giê tê giê tê"].spelled
    assert marked["ép không"].written == "F0" and marked["ép không"].spelled
    assert marked["ngày mười lăm tháng mười hai"].written == "15/12"
    assert not marked["ngày mười lăm tháng mười hai"].spelled  # a lexicon entry is not the fix for a date
    assert marked["hai mươi bốn trên bảy"].written == "24/7"
    assert "một nghìn hai trăm ba mươi bốn trên năm nghìn sáu trăm bảy mươi tám" in marked
    # "ngày 20/11" says it is a date: no guess, nothing marked.
    assert all("hai mươi tháng mười một" not in piece for piece in marked)


def test_spans_follow_later_rules(lexicon: Lexicon) -> None:
    # The spelled acronym is read before numbers and punctuation move the text around it.
    explanation = explain("Có 1.250 hộ dùng SGTGT , 35 hộ chưa dùng.", lexicon)
    (span,) = explanation.uncertain
    assert explanation.spoken[span.start : span.end] == "ét giê tê giê tê"


def test_a_text_read_as_written_has_no_changes(lexicon: Lexicon) -> None:
    explanation = explain("xã họp", lexicon)
    assert explanation.changes == () and explanation.uncertain == ()
