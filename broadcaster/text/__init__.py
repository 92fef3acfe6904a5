"""Vietnamese text normalization for speech: what a commune announcer would say.

Public API::

    normalize(text, lexicon=None) -> str          # "7h30 ngày 15/12" -> "bảy giờ ba mươi phút ngày ..."
    split_sentences(text, max_chars=100) -> list  # TTS chunks, never cutting a word
    load_lexicon(paths=()) -> Lexicon             # built-in abbreviations + commune TSV files
    validate_bulletin_text(text) -> str           # NFC text, or a TextError with a Vietnamese message
    measure_throughput(texts=None) -> Throughput  # for the benchmarks

The rules are small ``str -> str`` functions applied in the order listed in ``pipeline.py``;
word tables live in ``words.py`` and ``data/abbreviations.tsv``.
"""

from broadcaster.text.errors import (
    ControlCharacters,
    EmptyText,
    InvalidEncoding,
    InvalidUnicode,
    LexiconMalformed,
    LexiconNotFound,
    NothingToSpeak,
    TextError,
    TextTooLong,
)
from broadcaster.text.lexicon import Lexicon, load_lexicon
from broadcaster.text.pipeline import normalize
from broadcaster.text.sentences import split_sentences
from broadcaster.text.throughput import Throughput, measure_throughput
from broadcaster.text.validation import MAX_BULLETIN_CHARS, validate_bulletin_text

__all__ = [
    "MAX_BULLETIN_CHARS",
    "ControlCharacters",
    "EmptyText",
    "InvalidEncoding",
    "InvalidUnicode",
    "Lexicon",
    "LexiconMalformed",
    "LexiconNotFound",
    "NothingToSpeak",
    "TextError",
    "TextTooLong",
    "Throughput",
    "load_lexicon",
    "measure_throughput",
    "normalize",
    "split_sentences",
    "validate_bulletin_text",
]
