"""Spelling what cannot be read as words: unknown acronyms and letter-digit codes.

espeak-ng reads an unknown capitalised token such as "UBND" with English letter names or as an
English word; announcers spell it with Vietnamese letter names ("SGTGT" = ét giê tê giê tê,
"F0" = ép không). Capitalised Vietnamese words ("THÔNG BÁO") are left alone: a token is spelled
only when it cannot be a Vietnamese syllable.
"""

from __future__ import annotations

import re
import unicodedata

from broadcaster.text import numbers, words

_TONES = re.compile("[\u0300\u0301\u0303\u0309\u0323]")
# Onset, vowel nucleus (with glides) and coda of a Vietnamese syllable, on tone-less
# lower-case text. Loose on purpose: it only has to tell "THÔNG" from "UBND".
_SYLLABLE = re.compile(
    r"(?:ngh|ng|gh|gi|kh|nh|ph|th|tr|ch|qu|[bcdđghklmnprstvx])?"
    r"(?:uyê|uya|uôi|ươi|ươu|yêu|iêu|oai|oay|oeo|uây|uyu|ia|iê|yê|uô|ưa|ươ|ai|ao|au|ay|âu|ây|eo"
    r"|êu|iu|oa|oă|oe|oi|ôi|ơi|ua|uâ|uê|ui|uy|ưi|ưu|[aăâeêioôơuưy])"
    r"(?:ch|nh|ng|[cmnpt])?"
)
_MAX_SPELLED = 6  # longer capitalised tokens are more likely words (UNESCO) than initials
_CAPS_TOKEN = re.compile(r"(?<![\w.@])[^\W\d_]{2,}(?![\w@]|\.\w)")
# "F0", "H5N1", "PC06", and substation codes with a dot: "E1.7" = e một chấm bảy.
_CODE_TOKEN = re.compile(r"(?<![\w.@/-])([A-ZĐ]+\d[A-ZĐ\d]*(?:\.\d+)?)(?![\w@]|\.\d)")
# "A/H5N1": the virus type before a strain code; the slash is not read.
_STRAIN_TYPE = re.compile(r"(?<![\w/])([A-Z])/(?=[A-Z]+\d)")
_DIGIT_RUN = re.compile(r"\d+|\D")


def _toneless(word: str) -> str:
    return unicodedata.normalize("NFC", _TONES.sub("", unicodedata.normalize("NFD", word.lower())))


def is_vietnamese_syllable(word: str) -> bool:
    """Whether ``word`` (any case, with or without tone) has the shape of a Vietnamese syllable."""
    return bool(_SYLLABLE.fullmatch(_toneless(word)))


def spell_letters(word: str) -> str:
    """Vietnamese letter names: "HTX" -> "hát tê ích"."""
    return " ".join(words.LETTER_NAMES.get(char.upper(), char) for char in word)


def _spell_acronym(match: re.Match[str]) -> str:
    token = match.group(0)
    if not token.isupper() or len(token) > _MAX_SPELLED or is_vietnamese_syllable(token):
        return token
    return spell_letters(token)


def spell_unknown_acronyms(text: str) -> str:
    """Spell capitalised tokens that are neither lexicon words nor Vietnamese syllables."""
    return _CAPS_TOKEN.sub(_spell_acronym, text)


def _code_part(run: str) -> str:
    if run == ".":
        return words.VERSION_DOT
    if not run.isdecimal():
        return spell_letters(run)
    # "PC06" = pê xê không sáu: a zero inside a code is said, unlike the padded count "05 người".
    return numbers.digits(run) if run.startswith("0") and len(run) > 1 else numbers.read_number(run)


def _read_code(match: re.Match[str]) -> str:
    parts = (_code_part(run) for run in _DIGIT_RUN.findall(match.group(1)))
    return " ".join(parts)


def read_alphanumeric_codes(text: str) -> str:
    """Codes that start with capitals and hold digits: "F0" -> ép không, "H5N1" -> hát năm nờ một."""
    return _CODE_TOKEN.sub(_read_code, _STRAIN_TYPE.sub(r"\1 ", text))
