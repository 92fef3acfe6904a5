"""The commune lexicon ("Từ điển địa phương"): entries officers add, edit and remove, and TSV files.

Entries belong to one commune and override the built-in lexicon for it alone. Every change is
audited in the same transaction (object_type ``lexicon_entry``; an import is one event with its
counts). Any signed-in member of the commune may edit it (officers are who need it most); a
province admin edits any commune's. Entries are checked like the lines of a lexicon file, so
what the page accepts is what ``broadcaster normalize --lexicon`` accepts, and back.

``CommuneLexicons`` gives the speech service the lexicon of a commune at each rendering: the
rows are read each time (one small query), and the compiled lexicon is reused while they do not
change, so an edit takes effect on the very next rendering.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.db import Database
from broadcaster.errors import Conflict, InvalidInput, NotFound
from broadcaster.models import LexiconEntry, Role, User
from broadcaster.services import scoping
from broadcaster.services.audit import AuditAction, record
from broadcaster.text.errors import LexiconMalformed
from broadcaster.text.lexicon import Lexicon, parse_lexicon_rows

OBJECT_TYPE = "lexicon_entry"
WRITTEN_MAX = 120
SPOKEN_MAX = 400
NOTE_MAX = 200
MAX_ENTRIES = 2000  # a commune's own words; a bigger file is a mistake (a dictionary dump)
MAX_IMPORT_BYTES = 512 * 1024


class LexiconEntryInvalid(InvalidInput):
    """An entry's written form, reading or note is empty, too long or malformed."""

    code = "lexicon_entry_invalid"


class LexiconEntryExists(Conflict):
    """The commune already has an entry for this written form."""

    code = "lexicon_entry_exists"


class LexiconEntryNotFound(NotFound):
    """No such entry, or one of a commune the user may not see."""

    code = "lexicon_entry_not_found"


class LexiconTooLarge(InvalidInput):
    """An imported file, or the lexicon it would make, is too big."""

    code = "lexicon_too_large"


@dataclass(frozen=True)
class EntryFields:
    """What the form sends for one entry."""

    written: str
    spoken: str
    note: str = ""


@dataclass(frozen=True)
class ImportResult:
    """How many entries an import added and changed (unchanged ones are not counted)."""

    added: int
    changed: int


def _checked(fields: EntryFields) -> tuple[str, str, str]:
    """The entry in canonical form, checked as one line of a lexicon file would be."""
    for value, label in ((fields.written, "Dạng viết"), (fields.spoken, "Cách đọc"), (fields.note, "Ghi chú")):
        if "\t" in value or "\n" in value or "\r" in value:
            raise LexiconEntryInvalid(f"«{label}» không được chứa phím Tab hay xuống dòng.")
    if len(fields.written.strip()) > WRITTEN_MAX or len(fields.spoken.strip()) > SPOKEN_MAX:
        raise LexiconEntryInvalid(
            f"Dạng viết tối đa {WRITTEN_MAX} ký tự, cách đọc tối đa {SPOKEN_MAX} ký tự."
        )
    if len(fields.note.strip()) > NOTE_MAX:
        raise LexiconEntryInvalid(f"Ghi chú tối đa {NOTE_MAX} ký tự.")
    line = f"{fields.written}\t{fields.spoken}\t{fields.note.strip()}"
    try:
        (row,) = parse_lexicon_rows([line], "form")
    except LexiconMalformed as error:
        message = error.message.replace("Tệp từ điển form, dòng 1: ", "")
        raise LexiconEntryInvalid(message[:1].upper() + message[1:], detail=error.detail) from error
    except ValueError as error:  # nothing parsed: an empty line
        raise LexiconEntryInvalid("Hãy nhập dạng viết và cách đọc.") from error
    return row


def _visible_entry(session: Session, user: User, entry_id: int) -> LexiconEntry:
    entry = session.get(LexiconEntry, entry_id)
    if entry is None or not scoping.can_see_commune(user, entry.commune_id):
        raise LexiconEntryNotFound(f"Không tìm thấy mục từ điển số {entry_id}.", detail=f"entry {entry_id}")
    return entry


def _entry_of(session: Session, commune_id: int, written: str) -> LexiconEntry | None:
    query = select(LexiconEntry).where(LexiconEntry.commune_id == commune_id, LexiconEntry.written == written)
    return session.scalars(query).first()


def _values(entry: LexiconEntry) -> dict[str, str]:
    return {"written": entry.written, "spoken": entry.spoken, "note": entry.note}


def list_entries(session: Session, user: User, commune_id: int, search: str = "") -> Sequence[LexiconEntry]:
    """The commune's entries in written order, optionally those whose written form or reading has ``search``."""
    commune = scoping.visible_commune(session, user, commune_id)
    query = select(LexiconEntry).where(LexiconEntry.commune_id == commune.id)
    if search.strip():
        pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            LexiconEntry.written.ilike(pattern, escape="\\") | LexiconEntry.spoken.ilike(pattern, escape="\\")
        )
    return session.scalars(query.order_by(LexiconEntry.written)).all()


def get_entry(session: Session, user: User, entry_id: int) -> LexiconEntry:
    """One visible entry."""
    return _visible_entry(session, user, entry_id)


def add_entry(session: Session, user: User, commune_id: int, fields: EntryFields) -> LexiconEntry:
    """Add an entry to the commune's lexicon and commit (audited)."""
    commune = scoping.visible_commune(session, user, commune_id)
    scoping.require_role(user, Role.OFFICER)
    written, spoken, note = _checked(fields)
    if _entry_of(session, commune.id, written) is not None:
        raise LexiconEntryExists(f"Từ điển của xã đã có «{written}». Hãy sửa mục đó thay vì thêm mới.")
    if _count(session, commune.id) >= MAX_ENTRIES:
        raise LexiconTooLarge(f"Từ điển của một xã tối đa {MAX_ENTRIES} mục.")
    entry = LexiconEntry(commune_id=commune.id, written=written, spoken=spoken, note=note)
    session.add(entry)
    session.flush()
    record(session, actor=user, action=AuditAction.CREATE, object_type=OBJECT_TYPE, object_id=entry.id,
           commune_id=commune.id, details=_values(entry))
    session.commit()
    return entry


def edit_entry(session: Session, user: User, entry_id: int, fields: EntryFields) -> LexiconEntry:
    """Change an entry and commit (audited with the values before and after)."""
    entry = _visible_entry(session, user, entry_id)
    scoping.require_role(user, Role.OFFICER)
    written, spoken, note = _checked(fields)
    clash = _entry_of(session, entry.commune_id, written)
    if clash is not None and clash.id != entry.id:
        raise LexiconEntryExists(f"Từ điển của xã đã có «{written}» ở một mục khác.")
    before = _values(entry)
    entry.written, entry.spoken, entry.note = written, spoken, note
    record(session, actor=user, action=AuditAction.EDIT, object_type=OBJECT_TYPE, object_id=entry.id,
           commune_id=entry.commune_id, details={"before": before, "after": _values(entry)})
    session.commit()
    return entry


def delete_entry(session: Session, user: User, entry_id: int) -> None:
    """Remove an entry and commit (the audit event keeps what it said)."""
    entry = _visible_entry(session, user, entry_id)
    scoping.require_role(user, Role.OFFICER)
    record(session, actor=user, action=AuditAction.DELETE, object_type=OBJECT_TYPE, object_id=entry.id,
           commune_id=entry.commune_id, details=_values(entry))
    session.delete(entry)
    session.commit()


def import_tsv(session: Session, user: User, commune_id: int, data: bytes, source: str) -> ImportResult:
    """Add or update entries from a lexicon file (written<TAB>spoken[<TAB>note]) and commit, all or nothing."""
    commune = scoping.visible_commune(session, user, commune_id)
    scoping.require_role(user, Role.OFFICER)
    if len(data) > MAX_IMPORT_BYTES:
        raise LexiconTooLarge(f"Tệp từ điển tối đa {MAX_IMPORT_BYTES // 1024} kB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise LexiconMalformed(f"Tệp {source}, dòng {line}: không phải văn bản UTF-8.", detail=str(error)) from error
    rows = parse_lexicon_rows(text.splitlines(), source)
    existing = {e.written: e for e in session.scalars(select(LexiconEntry).where(LexiconEntry.commune_id == commune.id))}
    added = changed = 0
    for written, spoken, note in rows:
        _checked(EntryFields(written, spoken, note))  # the page's limits hold for files too
        entry = existing.get(written)
        if entry is None:
            session.add(LexiconEntry(commune_id=commune.id, written=written, spoken=spoken, note=note))
            added += 1
        elif (entry.spoken, entry.note) != (spoken, note or entry.note):
            entry.spoken, entry.note = spoken, note or entry.note
            changed += 1
    if len(existing) + added > MAX_ENTRIES:
        session.rollback()
        raise LexiconTooLarge(f"Sau khi nhập, từ điển sẽ có hơn {MAX_ENTRIES} mục.")
    record(session, actor=user, action="import", object_type=OBJECT_TYPE, object_id=None, commune_id=commune.id,
           details={"source": source, "rows": len(rows), "added": added, "changed": changed})
    session.commit()
    return ImportResult(added, changed)


def export_tsv(session: Session, user: User, commune_id: int) -> str:
    """The commune's lexicon as a file ``broadcaster normalize --lexicon`` and the import both read."""
    commune = scoping.visible_commune(session, user, commune_id)
    lines = [f"# Từ điển địa phương: {commune.name}", "# dạng viết<Tab>cách đọc<Tab>ghi chú"]
    lines += [f"{e.written}\t{e.spoken}\t{e.note}".rstrip("\t") for e in list_entries(session, user, commune.id)]
    return "\n".join(lines) + "\n"


def _count(session: Session, commune_id: int) -> int:
    return session.scalar(select(func.count()).where(LexiconEntry.commune_id == commune_id)) or 0


def commune_rows(session: Session, commune_id: int) -> tuple[tuple[str, str, str], ...]:
    """The commune's entries as plain rows (for rendering; no user: the speech service reads them)."""
    return communes_rows(session, [commune_id])[commune_id]


def communes_rows(session: Session, commune_ids: Collection[int]) -> dict[int, tuple[tuple[str, str, str], ...]]:
    """``commune_rows`` of several communes in one query."""
    found: dict[int, list[tuple[str, str, str]]] = {commune_id: [] for commune_id in commune_ids}
    query = select(LexiconEntry.commune_id, LexiconEntry.written, LexiconEntry.spoken, LexiconEntry.note).where(
        LexiconEntry.commune_id.in_(list(found))
    )
    for commune_id, w, s, n in session.execute(query):
        found[commune_id].append((w, s, n))
    return {commune_id: tuple(sorted(rows)) for commune_id, rows in found.items()}


class CommuneLexicons:
    """The lexicon of each commune for the speech service: the base lexicon with the commune's entries."""

    CACHED = 64

    def __init__(self, db: Database) -> None:
        self.db = db
        self._compiled: OrderedDict[tuple[Lexicon, int, tuple[tuple[str, str, str], ...]], Lexicon] = OrderedDict()
        self._lock = threading.Lock()
        self._held = threading.local()  # per thread: commune id -> its rows, read once inside ``held``

    @contextmanager
    def held(self, commune_id: int) -> Iterator[None]:
        """Within the block, this thread reads the commune's entries once and keeps them.

        A session's composition reads every piece twice (its length, then the programme): with the
        entries held, one query instead of one per read, and every piece read with the same words
        even if an officer edits the lexicon meanwhile.
        """
        held: dict[int, tuple[tuple[str, str, str], ...] | None] = self._held.__dict__.setdefault("rows", {})
        outer = commune_id in held
        if not outer:
            held[commune_id] = None  # read on first use
        try:
            yield
        finally:
            if not outer:
                del held[commune_id]

    @contextmanager
    def held_many(self, commune_ids: Collection[int]) -> Iterator[None]:
        """``held`` for several communes at once, their entries read in one query (a province-wide emergency)."""
        held: dict[int, tuple[tuple[str, str, str], ...] | None] = self._held.__dict__.setdefault("rows", {})
        new = [commune_id for commune_id in set(commune_ids) if commune_id not in held]
        if new:
            with self.db.session() as session:
                held.update(communes_rows(session, new))
        try:
            yield
        finally:
            for commune_id in new:
                del held[commune_id]

    def _rows(self, commune_id: int) -> tuple[tuple[str, str, str], ...]:
        held = self._held.__dict__.get("rows", {})
        rows = held.get(commune_id)
        if rows is None:
            with self.db.session() as session:
                rows = commune_rows(session, commune_id)
            if commune_id in held:
                held[commune_id] = rows
        return rows

    def for_commune(self, base: Lexicon, commune_id: int) -> Lexicon:
        """``base`` with the commune's entries laid over it, as they are now (or as ``held`` read them)."""
        rows = self._rows(commune_id)
        if not rows:
            return base
        key = (base, commune_id, rows)
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                self._compiled.move_to_end(key)
                return found
        lexicon = base.with_entries({w: s for w, s, _ in rows}, f"từ điển xã #{commune_id}",
                                    {w: n or "từ điển địa phương" for w, _, n in rows})
        with self._lock:
            self._compiled[key] = lexicon
            while len(self._compiled) > self.CACHED:
                self._compiled.popitem(last=False)
        return lexicon
