"""Vietnamese text normalization for speech: what a commune announcer would say.

Public API::

    normalize(text, lexicon=None) -> str          # "7h30 ngày 15/12" -> "bảy giờ ba mươi phút ngày ..."
    split_sentences(text, max_chars=100) -> list  # TTS chunks, never cutting a word
    load_lexicon(paths=()) -> Lexicon             # built-in abbreviations + commune TSV files
    validate_bulletin_text(text) -> str           # NFC text, or a TextError with a Vietnamese message
    spoken_seconds(spoken) -> float               # estimated speaking time of normalized text
    measure_throughput(texts=None) -> Throughput  # for the benchmarks

The rules are small ``str -> str`` functions applied in the order listed in ``pipeline.py``;
word tables live in ``words.py`` and ``data/abbreviations.tsv``.
"""

from broadcaster.text.errors import (
    BidiControls,
    ConfusableCharacters,
    ControlCharacters,
    EmptyText,
    InvalidEncoding,
    InvalidUnicode,
    InvisibleInNumber,
    LexiconMalformed,
    LexiconNotFound,
    NothingToSpeak,
    SpokenTooLong,
    TextError,
    TextTooLong,
)
from broadcaster.text.lexicon import Lexicon, load_lexicon
from broadcaster.text.pipeline import normalize
from broadcaster.text.sentences import split_sentences
from broadcaster.text.throughput import Throughput, measure_throughput
from broadcaster.text.validation import (
    MAX_BULLETIN_CHARS,
    MAX_SPOKEN_S,
    spoken_seconds,
    validate_bulletin_text,
)
from broadcaster.text.visibility import check_shown_as_spoken

__all__ = [
    "MAX_BULLETIN_CHARS",
    "MAX_SPOKEN_S",
    "BidiControls",
    "ConfusableCharacters",
    "ControlCharacters",
    "EmptyText",
    "InvalidEncoding",
    "InvalidUnicode",
    "InvisibleInNumber",
    "Lexicon",
    "LexiconMalformed",
    "LexiconNotFound",
    "NothingToSpeak",
    "SpokenTooLong",
    "TextError",
    "TextTooLong",
    "Throughput",
    "check_shown_as_spoken",
    "load_lexicon",
    "measure_throughput",
    "normalize",
    "split_sentences",
    "spoken_seconds",
    "validate_bulletin_text",
]
