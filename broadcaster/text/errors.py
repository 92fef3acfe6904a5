"""Errors of the text family: bad bulletin text and bad lexicon files.

All are :class:`~broadcaster.errors.InvalidInput` (the caller must change the text or the
file) except a missing lexicon file, which is :class:`~broadcaster.errors.NotFound`.
"""

from __future__ import annotations

from broadcaster.errors import InvalidInput, NotFound


class TextError(InvalidInput):
    """The bulletin text cannot be read aloud as it is."""

    code = "text_invalid"


class EmptyText(TextError):
    """Nothing but whitespace."""

    code = "text_empty"


class TextTooLong(TextError):
    """Longer than a bulletin may be."""

    code = "text_too_long"


class NothingToSpeak(TextError):
    """Only emoji, symbols or punctuation: no word would be spoken."""

    code = "text_nothing_to_speak"


class ControlCharacters(TextError):
    """Control characters other than tab and line breaks."""

    code = "text_control_characters"


class InvalidUnicode(TextError):
    """Lone surrogates: the text was not decoded from valid UTF-8."""

    code = "text_invalid_unicode"


class InvalidEncoding(TextError):
    """Bytes that are not UTF-8 (standard input of the CLI)."""

    code = "text_invalid_encoding"


class LexiconMalformed(InvalidInput):
    """A lexicon file line is not ``written<TAB>spoken``."""

    code = "lexicon_malformed"


class LexiconNotFound(NotFound):
    """A lexicon file that does not exist or cannot be read."""

    code = "lexicon_not_found"


class BidiControls(TextError):
    """Bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C): they reorder what is shown."""

    code = "text_bidi_control"


class InvisibleInNumber(TextError):
    """An invisible character inside a number: the number shown is not the number read."""

    code = "text_invisible_in_number"


class ConfusableCharacters(TextError):
    """Digits other than 0–9, letters that look like digits among digits, or Cyrillic/Greek letters in a word."""

    code = "text_confusable_characters"


class SpokenTooLong(TextError):
    """Read aloud (numbers, dates and times in words), the bulletin would last longer than one may."""

    code = "text_spoken_too_long"
