"""Cutting text into sentence chunks for the voices: never inside a word.

A chunk is one sentence; a sentence longer than ``max_chars`` (gTTS takes 100 characters) is
cut at clause punctuation, and a clause still too long at the last space that fits. A single
word longer than the limit is kept whole rather than cut.
"""

from __future__ import annotations

import re

# A sentence ends at . ! ? (or an ellipsis) followed by space, unless the dot closes an
# abbreviation still in the text (TP. Hà Nội, ông Nguyễn Văn A. nói) or a number (1.000).
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_ABBREVIATION_DOT = re.compile(r"(?:\b[A-ZĐ]|\b(?:TP|TX|Tx|TT|ThS|TS|GS|PGS|BS|Th\.S|v\.v))\.$")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|\s+(?=-\s)")


def _sentences(text: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()].rstrip()
        if _ABBREVIATION_DOT.search(candidate) and "\n" not in match.group(0):
            continue
        pieces.append(text[start : match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [" ".join(piece.split()) for piece in pieces if piece.strip()]


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Greedily join parts with spaces into chunks of at most ``max_chars``."""
    chunks: list[str] = []
    for part in parts:
        if chunks and len(chunks[-1]) + 1 + len(part) <= max_chars:
            chunks[-1] = f"{chunks[-1]} {part}"
        else:
            chunks.append(part)
    return chunks


def _split_long(sentence: str, max_chars: int) -> list[str]:
    chunks: list[str] = []
    for clause in _pack(_CLAUSE_END.split(sentence), max_chars):
        chunks.extend(_pack(clause.split(" "), max_chars) if len(clause) > max_chars else [clause])
    return chunks


def split_sentences(text: str, max_chars: int = 100) -> list[str]:
    """Sentence chunks of ``text`` (clauses for over-long sentences), each at most ``max_chars`` unless one word is longer."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    chunks: list[str] = []
    for sentence in _sentences(text):
        chunks.extend([sentence] if len(sentence) <= max_chars else _split_long(sentence, max_chars))
    return chunks
