"""Why a text is read as it is: which rule changed which span, and which readings are guesses.

``explain(text, lexicon)`` runs the same steps as ``normalize`` and compares the text before and
after each step word by word, so it never changes a reading. Each change names its rule and a
reason (the sense's reason for an ambiguous abbreviation, the entry's source for a lexicon word,
else the rule's docstring). Readings that rest on a guess (letters spelled one by one, a slash
read as a date) are followed to the final spoken text, so the compose and approval pages can
highlight them and offer a lexicon entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from broadcaster.text import senses
from broadcaster.text.lexicon import Lexicon, load_lexicon
from broadcaster.text.pipeline import Step, steps_for

_TOKEN = re.compile(r"\w+|[^\w\s]")
_LETTERS = re.compile(r"\w")
# Aligning a step's input and output: after a difference, both texts agree again within this many
# tokens (a rule rewrites one span into at most a few dozen words), on this many tokens in a row.
_BEHIND = 80
_AHEAD = 240
_AGREE = 3


@dataclass(frozen=True)
class Change:
    """One span rewritten by one rule."""

    rule: str
    before: str
    after: str
    reason: str
    guess: str | None = None


@dataclass(frozen=True)
class Uncertain:
    """A span of the spoken text that rests on a guess, with the written text it came from."""

    start: int
    end: int
    written: str
    reason: str
    spelled: bool  # letters or code characters read one by one: a lexicon entry fixes it


@dataclass(frozen=True)
class Explanation:
    """The spoken form of a text, the changes that made it, and its uncertain spans."""

    text: str
    spoken: str
    changes: tuple[Change, ...]
    uncertain: tuple[Uncertain, ...]

    def segments(self) -> list[tuple[str, Uncertain | None]]:
        """The spoken text cut into plain pieces and uncertain spans, in order (for the pages)."""
        pieces: list[tuple[str, Uncertain | None]] = []
        cursor = 0
        for span in self.uncertain:
            if span.start > cursor:
                pieces.append((self.spoken[cursor : span.start], None))
            pieces.append((self.spoken[span.start : span.end], span))
            cursor = span.end
        if cursor < len(self.spoken):
            pieces.append((self.spoken[cursor:], None))
        return pieces


@dataclass(frozen=True)
class _Block:
    tag: str
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    a_tokens: list[re.Match[str]]
    b_tokens: list[re.Match[str]]


def _resync(a: list[str], b: list[str], i: int, j: int) -> tuple[int, int] | None:
    """The nearest (i', j') after a difference at (i, j) where ``_AGREE`` tokens agree again."""
    for total in range(1, _BEHIND + _AHEAD + 1):
        for di in range(max(0, total - _AHEAD), min(total, _BEHIND) + 1):
            x, y = i + di, j + total - di
            if x < len(a) and y < len(b) and a[x] == b[y] and a[x : x + _AGREE] == b[y : y + _AGREE]:
                return x, y
    return None


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """``difflib``-style opcodes in about linear time: rules rewrite local spans, so the two sides
    resynchronise close by (``SequenceMatcher`` took half a minute on a 20,000-character bulletin)."""
    ops: list[tuple[str, int, int, int, int]] = []
    i = j = 0
    while i < len(a) or j < len(b):
        start_i, start_j = i, j
        while i < len(a) and j < len(b) and a[i] == b[j]:
            i, j = i + 1, j + 1
        if i > start_i:
            ops.append(("equal", start_i, i, start_j, j))
        if i == len(a) and j == len(b):
            break
        found = _resync(a, b, i, j) if i < len(a) and j < len(b) else None
        next_i, next_j = found if found else (len(a), len(b))
        ops += _refined(a, b, i, next_i, j, next_j)
        i, j = next_i, next_j
    return ops


def _refined(a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int) -> list[tuple[str, int, int, int, int]]:
    """A small differing stretch aligned exactly (two guesses a word apart stay two changes)."""
    if i2 - i1 > _BEHIND or j2 - j1 > _AHEAD:
        return [("replace", i1, i2, j1, j2)]
    matcher = SequenceMatcher(None, a[i1:i2], b[j1:j2], autojunk=False)
    return [(tag, i1 + x1, i1 + x2, j1 + y1, j1 + y2) for tag, x1, x2, y1, y2 in matcher.get_opcodes()]


def _blocks(before: str, after: str) -> list[_Block]:
    """Token-level alignment of two versions of the text, as character ranges."""
    a_tokens, b_tokens = list(_TOKEN.finditer(before)), list(_TOKEN.finditer(after))
    blocks = []
    for tag, i1, i2, j1, j2 in _opcodes([t.group(0) for t in a_tokens], [t.group(0) for t in b_tokens]):
        a_start = a_tokens[i1].start() if i1 < i2 else (a_tokens[i1].start() if i1 < len(a_tokens) else len(before))
        a_end = a_tokens[i2 - 1].end() if i1 < i2 else a_start
        b_start = b_tokens[j1].start() if j1 < j2 else (b_tokens[j1].start() if j1 < len(b_tokens) else len(after))
        b_end = b_tokens[j2 - 1].end() if j1 < j2 else b_start
        blocks.append(_Block(tag, a_start, a_end, b_start, b_end, a_tokens[i1:i2], b_tokens[j1:j2]))
    return blocks


def _map(position: int, blocks: list[_Block], *, end: bool) -> int:
    """Where a character position of the older text lands in the newer one."""
    for block in blocks:
        if position < block.a_start or position > block.a_end:
            continue
        if block.tag == "equal":
            for a_token, b_token in zip(block.a_tokens, block.b_tokens, strict=True):
                if a_token.start() <= position <= a_token.end():
                    return b_token.start() + (position - a_token.start())
        return block.b_end if end else block.b_start
    following = [block for block in blocks if block.a_start > position]
    return following[0].b_start if following else (blocks[-1].b_end if blocks else position)


def _reason(step: Step, text: str, start: int, end: int, lexicon: Lexicon) -> str:
    if step.name == "senses.read_by_neighbours":
        sense = senses.sense_at(text, start, end)
        if sense is not None:
            return sense.why
    if step.name == "lexicon.expand":
        keys = lexicon.keys_in(text[start:end])
        described = [f"{key} → {lexicon.entries[key]} ({lexicon.notes.get(key) or lexicon.origins.get(key, '')})"
                     for key in keys]
        if described:
            return "từ điển: " + "; ".join(described)
    return step.about


def explain(text: str, lexicon: Lexicon | None = None) -> Explanation:
    """Normalize ``text`` and say which rule changed which span (see the module docstring)."""
    lexicon = lexicon if lexicon is not None else load_lexicon()
    changes: list[Change] = []
    pending: list[list] = []  # [start, end, written, reason, spelled] in the current text
    current = text
    for step in steps_for(lexicon):
        result = step.rule(current)
        if result == current:
            continue
        blocks = _blocks(current, result)
        for span in pending:
            span[0], span[1] = _map(span[0], blocks, end=False), _map(span[1], blocks, end=True)
        for block in blocks:
            if block.tag == "equal":
                continue
            before, after = current[block.a_start : block.a_end], result[block.b_start : block.b_end]
            if _LETTERS.findall(before) == _LETTERS.findall(after):
                continue  # only spaces or punctuation moved
            reason = _reason(step, current, block.a_start, block.a_end, lexicon)
            changes.append(Change(step.name, before, after, reason, step.guess))
            if step.guess:
                spelled = step.name.startswith("spelling.")
                pending.append([block.b_start, block.b_end, before, reason, spelled])
        current = result
    spans = sorted({(s, e, w, r, p) for s, e, w, r, p in pending if e > s})
    uncertain: list[Uncertain] = []
    for start, end, written, reason, spelled in spans:
        if uncertain and start < uncertain[-1].end:
            continue  # overlapping guesses: the first one marks the span
        uncertain.append(Uncertain(start, end, written, reason, spelled))
    return Explanation(text, current, tuple(changes), tuple(uncertain))
