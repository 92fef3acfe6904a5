"""What the approver sees must be what the speakers say: characters that make the two differ are refused.

- Bidirectional controls reorder the displayed text (a time "07:30" can show as "30:07") while the
  speech engine reads the characters in stored order. Refused everywhere.
- Invisible characters (zero-width space and joiners, word joiner, soft hyphen, invisible
  operators, fillers) are harmless between words, but inside a number the page and the reader may
  disagree on where the number ends. Refused between the digits of a number.
- Digits other than ASCII 0–9 (Arabic-Indic, full-width, mathematical) look like other digits or
  like letters; letters that look like digits (O, l, I, Cyrillic О, З...) between two digits; and
  Cyrillic or Greek letters inside a Latin word ("Hà Nộі" with a Cyrillic і) are refused too.
"""

from __future__ import annotations

import re
import unicodedata

from broadcaster.text.errors import BidiControls, ConfusableCharacters, InvisibleInNumber

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Every format character (Unicode category Cf, as of Unicode 14) is invisible, and so are these others.
_INVISIBLE = (
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\u034f\u115f\u1160\u3164\uffa0\ufe00-\ufe0f]"
)
_SEPARATOR = r"[.,:/hH\-]"
# Letters a reader takes for a digit when they sit among digits.
_DIGIT_LOOKALIKES = "OoIlІіӏΙΟοОоЗзб"
# Greek letters used as unit symbols (micro, ohm) are not confusables.
_UNIT_LETTERS = frozenset("μΩ")
_WORD = re.compile(r"[^\W\d_]+")
_INVISIBLE_IN_NUMBER = re.compile(
    rf"(?:(?<=[0-9])|(?<=[0-9]{_SEPARATOR})){_INVISIBLE}+(?=[0-9]|{_SEPARATOR}[0-9])"
)
_LOOKALIKE_AMONG_DIGITS = re.compile(rf"(?<=[0-9])[{_DIGIT_LOOKALIKES}]+(?=[0-9])")
_FOREIGN_LOOKALIKE_BY_DIGIT = re.compile(r"(?<=[0-9])[ІіӏΙΟοОоЗзб]|[ІіӏΙΟοОоЗзб](?=[0-9])")


def _position(text: str, index: int) -> str:
    return f"ở vị trí {index + 1}"


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else ""


def check_shown_as_spoken(text: str, label: str = "Văn bản") -> None:
    """Refuse ``text`` (NFC) if it holds characters that make what is shown differ from what is read.

    ``label`` names the field in the message ("Văn bản", "Tiêu đề").
    """
    for index, char in enumerate(text):
        if char in BIDI_CONTROLS:
            raise BidiControls(
                f"{label} có ký tự điều khiển hướng chữ (U+{ord(char):04X}) {_position(text, index)}: nó làm "
                "chữ hiển thị khác với chữ được đọc. Hãy gõ lại đoạn đó hoặc dán dưới dạng văn bản thuần.",
                detail=f"bidi control U+{ord(char):04X} at index {index}",
            )
    if (match := _INVISIBLE_IN_NUMBER.search(text)) is not None:
        char = match.group(0)[0]
        raise InvisibleInNumber(
            f"{label} có ký tự vô hình (U+{ord(char):04X}) nằm giữa một con số {_position(text, match.start())}: "
            "số hiển thị có thể khác số được đọc. Hãy gõ lại con số đó.",
            detail=f"invisible U+{ord(char):04X} inside a number at index {match.start()}",
        )
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Nd" and not "0" <= char <= "9":
            raise ConfusableCharacters(
                f"{label} có chữ số không phải 0–9 («{char}», U+{ord(char):04X}) {_position(text, index)}. "
                "Hãy gõ lại bằng chữ số thường.",
                detail=f"non-ASCII digit U+{ord(char):04X} at index {index}",
            )
    match = _LOOKALIKE_AMONG_DIGITS.search(text) or _FOREIGN_LOOKALIKE_BY_DIGIT.search(text)
    if match is not None:
        raise ConfusableCharacters(
            f"{label} có chữ cái trông như chữ số («{match.group(0)}») lẫn trong con số {_position(text, match.start())}. "
            "Hãy gõ lại con số bằng chữ số 0–9.",
            detail=f"digit lookalike {match.group(0)!r} at index {match.start()}",
        )
    for word in _WORD.finditer(text):
        scripts = {_script(char) for char in word.group(0) if char not in _UNIT_LETTERS}
        if "LATIN" in scripts and scripts & {"CYRILLIC", "GREEK"}:
            raise ConfusableCharacters(
                f"{label} có từ «{word.group(0)}» lẫn chữ cái Kirin hoặc Hy Lạp trông giống chữ Việt "
                f"{_position(text, word.start())}; máy sẽ đọc sai. Hãy gõ lại từ đó.",
                detail=f"mixed-script word {word.group(0)!r} at index {word.start()}",
            )
