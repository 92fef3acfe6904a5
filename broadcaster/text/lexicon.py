"""The abbreviation and pronunciation lexicon: built-in TSV plus commune TSV files.

File format (UTF-8, one entry a line)::

    # comment
    UBND<TAB>ủy ban nhân dân
    Tx. Sơn Tây<TAB>thị xã Sơn Tây<TAB>optional note

Matching rules, chosen so that "CA" (công an) never eats "ca trực":

- a key with an upper-case letter matches exactly that spelling;
- an all-lower-case key (pronunciation fixes such as ``email``) matches any capitalisation,
  and a capitalised source word gives a capitalised reading;
- keys match whole words only; a key ending in "." (TP., Q.) matches only before a capital
  letter or a digit, so a sentence-final "X." is not read "xã"; digits may follow a key
  directly only for things that are numbered ("BĐ2", "QH15", "P.5"), so "BC15" stays a code;
- later files override earlier ones; the longest key wins where keys overlap.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from broadcaster.text.cleaning import canonicalize_unicode
from broadcaster.text.errors import LexiconMalformed, LexiconNotFound
from broadcaster.text.spelling import is_vietnamese_syllable
from broadcaster.text.words import NUMBERED_ABBREVIATIONS

BUILTIN_LEXICON = "abbreviations.tsv"
_WORD_CHAR = re.compile(r"\w")
_SPACES = re.compile(r"\s+")
_LAST_WORD = re.compile(r"(\w+)\W*$")
_FIRST_WORD = re.compile(r"\W*(\w+)")


def _canonical_key(key: str) -> str:
    return _SPACES.sub(" ", canonicalize_unicode(key).strip())


@dataclass(frozen=True, eq=False)
class Lexicon:
    """An immutable table of written forms and their spoken forms, compiled for matching."""

    entries: Mapping[str, str]
    sources: tuple[str, ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)  # written -> source or note
    origins: Mapping[str, str] = field(default_factory=dict)  # written -> the file or table it came from
    _exact: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _folded: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _lower: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))
        object.__setattr__(self, "notes", MappingProxyType(dict(self.notes)))
        default_origin = self.sources[0] if self.sources else ""
        origins = {key: self.origins.get(key, default_origin) for key in self.entries}
        object.__setattr__(self, "origins", MappingProxyType(origins))
        exact = [k for k in self.entries if k != k.lower()]
        folded = [k for k in self.entries if k == k.lower()]
        object.__setattr__(self, "_exact", _alternation(exact, 0))
        object.__setattr__(self, "_folded", _alternation(folded, re.IGNORECASE))
        object.__setattr__(self, "_lower", {k: v for k, v in self.entries.items() if k == k.lower()})

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, written: object) -> bool:
        return isinstance(written, str) and written in self.entries

    def spoken(self, written: str) -> str | None:
        """The spoken form of one written key, or None."""
        return self.entries.get(written)

    def _in_capitalised_heading(self, match: re.Match[str]) -> bool:
        # "LỊCH CA TRỰC" is a heading in capitals, not "công an": a key that is also a
        # Vietnamese syllable is left alone next to another capitalised, non-lexicon word.
        before = _LAST_WORD.search(match.string, max(0, match.start() - 40), match.start())
        after = _FIRST_WORD.match(match.string, match.end())
        neighbours = [m.group(1) for m in (before, after) if m]
        return any(w.isupper() and len(w) > 1 and w not in self.entries for w in neighbours)

    def _replace_exact(self, match: re.Match[str]) -> str:
        found = _SPACES.sub(" ", match.group(0))
        if is_vietnamese_syllable(found) and self._in_capitalised_heading(match):
            return match.group(0)
        glued = match.string[match.end() : match.end() + 1]
        if glued.isdecimal() and not found.endswith(".") and found not in NUMBERED_ABBREVIATIONS:
            return match.group(0)  # "BC15" is a rice variety, not "báo cáo 15": left for the code reader
        following = match.string[match.end() : match.end() + 2].lstrip()[:1]
        if found.endswith(".") and not (following.isupper() or following.isdecimal()):
            # "Q." is "quận" only before a name or number; otherwise the dot ends a sentence.
            shorter = self.entries.get(found[:-1])
            return f"{shorter}." if shorter else match.group(0)
        return _padded(self.entries[found], match)

    def _replace_folded(self, match: re.Match[str]) -> str:
        found = match.group(0)
        spoken = self._lower[_SPACES.sub(" ", found.lower())]
        if found[:1].isupper() and not found.isupper():
            spoken = spoken[:1].upper() + spoken[1:]
        return _padded(spoken, match)

    def expand(self, text: str) -> str:
        """Replace every lexicon word in ``text`` by its spoken form."""
        if self._exact is not None:
            text = self._exact.sub(self._replace_exact, text)
        if self._folded is not None:
            text = self._folded.sub(self._replace_folded, text)
        return text

    def keys_in(self, text: str) -> list[str]:
        """The keys of this lexicon that occur in ``text``, in order (what ``expand`` may read)."""
        found: list[str] = []
        for pattern in (self._exact, self._folded):
            if pattern is not None:
                found += [_SPACES.sub(" ", m.group(0)) for m in pattern.finditer(text)]
        return [key if key in self.entries else key.lower() for key in found if key in self.entries
                or key.lower() in self._lower]

    def fingerprint(self, text: str) -> str:
        """A digest of the entries ``text`` uses (written and spoken): what the audio cache keys on.

        Only the entries that occur count, so an edit re-renders the bulletins it concerns and no other.
        """
        used = sorted({(key, self.entries[key]) for key in self.keys_in(text)})
        return hashlib.sha256(json.dumps(used, ensure_ascii=False).encode("utf-8")).hexdigest()

    def with_entries(self, entries: Mapping[str, str], source: str, notes: Mapping[str, str] | None = None) -> Lexicon:
        """A new lexicon where ``entries`` (from ``source``) override this one's."""
        merged = dict(self.entries)
        merged.update(entries)
        merged_notes = {key: note for key, note in self.notes.items() if key not in entries}
        merged_notes.update(notes or {})
        origins = {**self.origins, **{key: source for key in entries}}
        return Lexicon(merged, (*self.sources, source), merged_notes, origins)


_END = ""  # trie marker: a key ends at this node
_Trie = dict[str, "_Trie"]


def _trie_pattern(node: _Trie, last: str) -> str:
    """Regex for a trie node: one branch per next character, longest keys tried first."""
    branches = [
        (r"\s+" if char == " " else re.escape(char)) + _trie_pattern(child, char)
        for char, child in sorted(node.items())
        if char != _END
    ]
    if _END in node:
        # A key ending in a letter must not be followed by a letter ("CA" is not in "CAX");
        # digits may follow ("P.5", "QL1A").
        branches.append(r"(?![^\W\d_])" if _WORD_CHAR.match(last) else "")
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def _alternation(keys: list[str], flags: int) -> re.Pattern[str] | None:
    """One regex matching any key at a word start, built as a trie so each text position costs
    one branch per character instead of one attempt per key."""
    if not keys:
        return None
    trie: _Trie = {}
    for key in keys:
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[_END] = {}
    return re.compile(r"(?<!\w)" + _trie_pattern(trie, ""), flags)


def _padded(spoken: str, match: re.Match[str]) -> str:
    # "TP.HCM" -> "thành phố Hồ Chí Minh": keep the reading apart from a glued neighbour.
    after = match.string[match.end() : match.end() + 1]
    return f"{spoken} " if after and _WORD_CHAR.match(after) else spoken


def parse_lexicon(lines: Iterable[str], source: str) -> dict[str, str]:
    """Parse TSV lines into entries; a malformed line raises LexiconMalformed naming the line."""
    return {written: spoken for written, spoken, _note in parse_lexicon_rows(lines, source)}


def parse_lexicon_rows(lines: Iterable[str], source: str) -> list[tuple[str, str, str]]:
    """Parse TSV lines into (written, spoken, note) rows, later rows replacing earlier ones."""
    entries: dict[str, tuple[str, str, str]] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            raise LexiconMalformed(
                f"Tệp từ điển {source}, dòng {number}: cần 2 hoặc 3 cột cách nhau bằng phím Tab "
                f"(dạng viết<Tab>cách đọc), nhưng có {len(fields)} cột.",
                detail=f"{source}:{number}: {line!r}",
            )
        written, spoken = _canonical_key(fields[0]), _SPACES.sub(" ", canonicalize_unicode(fields[1]).strip())
        if not written or not spoken:
            raise LexiconMalformed(
                f"Tệp từ điển {source}, dòng {number}: thiếu dạng viết hoặc cách đọc.",
                detail=f"{source}:{number}: {line!r}",
            )
        if not (_WORD_CHAR.match(written[0]) and (_WORD_CHAR.match(written[-1]) or written.endswith("."))):
            raise LexiconMalformed(
                f"Tệp từ điển {source}, dòng {number}: dạng viết “{written}” phải bắt đầu bằng chữ "
                "hoặc số và kết thúc bằng chữ, số hoặc dấu chấm.",
                detail=f"{source}:{number}: {line!r}",
            )
        note = fields[2].strip() if len(fields) == 3 else ""
        entries[written] = (written, spoken, note)
    return list(entries.values())


def read_lexicon_file(path: Path) -> dict[str, str]:
    """Entries of one commune TSV file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise LexiconNotFound(f"Không tìm thấy tệp từ điển {path}.", detail=str(error)) from error
    except IsADirectoryError as error:
        raise LexiconNotFound(f"{path} là thư mục, không phải tệp từ điển.", detail=str(error)) from error
    except UnicodeDecodeError as error:
        line = text_line_of(path.read_bytes(), error.start)
        raise LexiconMalformed(
            f"Tệp từ điển {path}, dòng {line}: không phải văn bản UTF-8.", detail=str(error)
        ) from error
    except OSError as error:
        raise LexiconNotFound(f"Không đọc được tệp từ điển {path}.", detail=str(error)) from error
    return parse_lexicon(text.splitlines(), str(path))


def text_line_of(data: bytes, offset: int) -> int:
    """The 1-based line number of byte ``offset`` in ``data``."""
    return data.count(b"\n", 0, offset) + 1


def builtin_lexicon() -> Lexicon:
    """The lexicon shipped with broadcaster (state bodies, documents, health, security...)."""
    source = resources.files("broadcaster.text").joinpath("data", BUILTIN_LEXICON)
    rows = parse_lexicon_rows(source.read_text(encoding="utf-8").splitlines(), BUILTIN_LEXICON)
    return Lexicon({w: s for w, s, _ in rows}, (BUILTIN_LEXICON,), {w: n for w, _, n in rows if n})


def load_lexicon(paths: Sequence[Path] = ()) -> Lexicon:
    """The built-in lexicon extended by commune TSV files; later files override earlier ones."""
    lexicon = _cached_builtin()
    for path in paths:
        lexicon = lexicon.with_entries(read_lexicon_file(Path(path)), str(path))
    return lexicon


_BUILTIN: list[Lexicon] = []


def _cached_builtin() -> Lexicon:
    # Parsed on first use, not at import, and then shared: it is immutable.
    if not _BUILTIN:
        _BUILTIN.append(builtin_lexicon())
    return _BUILTIN[0]
