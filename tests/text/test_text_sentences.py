"""Sentence chunks for the voices: sentences, then clauses, never a cut word."""

from __future__ import annotations

import pytest

from broadcaster.text import split_sentences


def test_one_chunk_per_sentence() -> None:
    text = "Xin chào bà con. Hôm nay trời mưa! Có ai ở nhà không? Hết."
    assert split_sentences(text) == ["Xin chào bà con.", "Hôm nay trời mưa!", "Có ai ở nhà không?", "Hết."]


def test_line_breaks_end_sentences_and_abbreviations_do_not() -> None:
    text = "THÔNG BÁO\nTP. Hà Nội, ông Nguyễn Văn A. cho biết giá 1.000 đồng... Hết"
    assert split_sentences(text) == ["THÔNG BÁO", "TP. Hà Nội, ông Nguyễn Văn A. cho biết giá 1.000 đồng...", "Hết"]


def test_long_sentence_is_cut_at_clauses_then_words() -> None:
    clause = "bà con nông dân các thôn chú ý theo dõi thông tin thời tiết"
    sentence = f"{clause}, {clause}; {clause} {clause} {clause}."
    chunks = split_sentences(sentence, max_chars=100)
    assert len(chunks) > 1
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert chunks[0] == f"{clause},"  # a clause boundary is preferred over a word boundary
    assert " ".join(chunks).split() == sentence.split()  # nothing lost, no word cut


@pytest.mark.parametrize("max_chars", [1, 5, 20, 37, 100])
def test_words_are_never_cut(max_chars: int) -> None:
    text = "Ủy ban nhân dân xã Phú Thịnh thông báo lịch tiêm chủng mở rộng cho trẻ em dưới năm tuổi, đợt một."
    chunks = split_sentences(text, max_chars=max_chars)
    assert " ".join(chunks).split() == text.split()
    for chunk in chunks:
        assert len(chunk) <= max_chars or " " not in chunk  # only a single long word may exceed


def test_empty_and_invalid_limits() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n ") == []
    with pytest.raises(ValueError):
        split_sentences("a", max_chars=0)
