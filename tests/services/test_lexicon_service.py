"""The commune lexicon on a real database: edits, scoping, audit, TSV files, and the next rendering."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from broadcaster.config import PROJECT_ROOT
from broadcaster.db import Database
from broadcaster.models import AuditEvent, LexiconEntry, Role, User
from broadcaster.services import lexicon as service
from broadcaster.services import registry, users
from broadcaster.services.lexicon import CommuneLexicons, EntryFields
from broadcaster.speech import SpeechService
from broadcaster.text import LexiconMalformed
from tests.databases import database_url
from tests.scheduler.support import make_settings


@dataclass
class Setup:
    db: Database
    commune: int
    other_commune: int
    officer: int
    other_officer: int
    province_admin: int

    def as_user(self, session, user_id: int) -> User:  # noqa: ANN001 - a SQLAlchemy session
        return session.get(User, user_id)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    db = Database(database_url(tmp_path / "data"))
    db.upgrade()
    with db.session() as session:
        communes = [registry.create_commune(session, None, code=code, name=name, schedules_dir=PROJECT_ROOT / "schedules")
                    for code, name in (("xa-dong", "Xã Đông"), ("xa-tay", "Xã Tây"))]
        officers = [users.create_user(session, None, username=f"canbo{i}", password="mat-khau-thu-1", role=Role.OFFICER,
                                      commune_id=c.id) for i, c in enumerate(communes)]
        admin = users.create_user(session, None, username="tinh", password="mat-khau-thu-1", role=Role.ADMIN,
                                  commune_id=None)
        ids = Setup(db, communes[0].id, communes[1].id, officers[0].id, officers[1].id, admin.id)
    yield ids
    db.dispose()


def test_add_edit_delete_are_scoped_and_audited(setup: Setup) -> None:
    with setup.db.session() as s:
        officer = setup.as_user(s, setup.officer)
        entry = service.add_entry(s, officer, setup.commune, EntryFields("Kẻ Nủa", "Kẻ Nủa", "tên làng"))
        service.edit_entry(s, officer, entry.id, EntryFields("Kẻ Nủa", "kẻ nủa", "tên làng cổ"))
        entry_id = entry.id
    with setup.db.session() as s:
        other = setup.as_user(s, setup.other_officer)
        with pytest.raises(service.LexiconEntryNotFound):
            service.edit_entry(s, other, entry_id, EntryFields("Kẻ Nủa", "sai", ""))
        with pytest.raises(service.LexiconEntryNotFound):
            service.delete_entry(s, other, entry_id)
        assert service.list_entries(s, other, setup.other_commune) == []
        admin = setup.as_user(s, setup.province_admin)
        assert [e.spoken for e in service.list_entries(s, admin, setup.commune)] == ["kẻ nủa"]
        service.delete_entry(s, setup.as_user(s, setup.officer), entry_id)
    with setup.db.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.object_type == "lexicon_entry")
                           .order_by(AuditEvent.id)).all()
        assert [(e.action, e.actor_id, e.commune_id) for e in events] == [
            ("create", setup.officer, setup.commune), ("edit", setup.officer, setup.commune),
            ("delete", setup.officer, setup.commune)]
        assert events[1].details["before"]["spoken"] == "Kẻ Nủa"
        assert events[1].details["after"] == {"written": "Kẻ Nủa", "spoken": "kẻ nủa", "note": "tên làng cổ"}
        assert events[2].details["written"] == "Kẻ Nủa"  # what was removed stays in the log
        assert s.scalars(select(LexiconEntry)).all() == []


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        (EntryFields("", "đọc"), "lexicon_entry_invalid"),
        (EntryFields("SGTGT", "  "), "lexicon_entry_invalid"),
        (EntryFields("(SGTGT)", "ét giê"), "lexicon_entry_invalid"),
        (EntryFields("A\tB", "a bê"), "lexicon_entry_invalid"),
        (EntryFields("X" * 121, "ích"), "lexicon_entry_invalid"),
        (EntryFields("SGTGT", "đọc", "n" * 201), "lexicon_entry_invalid"),
    ],
)
def test_bad_entries_are_refused_with_a_message(setup: Setup, fields: EntryFields, code: str) -> None:
    with setup.db.session() as s, pytest.raises(service.LexiconEntryInvalid) as raised:
        service.add_entry(s, setup.as_user(s, setup.officer), setup.commune, fields)
    assert raised.value.code == code and raised.value.message
    with setup.db.session() as s:
        assert s.scalars(select(LexiconEntry)).all() == []


def test_a_written_form_is_listed_once_per_commune(setup: Setup) -> None:
    with setup.db.session() as s:
        service.add_entry(s, setup.as_user(s, setup.officer), setup.commune, EntryFields("HTX", "hợp tác xã nông nghiệp"))
    with setup.db.session() as s, pytest.raises(service.LexiconEntryExists):
        service.add_entry(s, setup.as_user(s, setup.officer), setup.commune, EntryFields("HTX", "khác"))
    with setup.db.session() as s:  # another commune has its own
        service.add_entry(s, setup.as_user(s, setup.other_officer), setup.other_commune, EntryFields("HTX", "hát tê ích"))


def test_tsv_import_and_export_round_trip(setup: Setup) -> None:
    data = "# từ điển\nKẻ Nủa\tKẻ Nủa\ttên làng\nHTX\thợp tác xã nông nghiệp\nKDC\tkhu dân cư\n".encode()
    with setup.db.session() as s:
        officer = setup.as_user(s, setup.officer)
        assert service.import_tsv(s, officer, setup.commune, data, "xa.tsv") == service.ImportResult(3, 0)
        again = service.import_tsv(s, officer, setup.commune, b"HTX\thtx moi\n", "xa.tsv")
        assert again == service.ImportResult(0, 1)
        exported = service.export_tsv(s, officer, setup.commune)
    assert "HTX\thtx moi" in exported and "Kẻ Nủa\tKẻ Nủa\ttên làng" in exported
    with setup.db.session() as s:
        other = setup.as_user(s, setup.other_officer)
        service.import_tsv(s, other, setup.other_commune, exported.encode(), "xuat.tsv")
        assert {e.written for e in service.list_entries(s, other, setup.other_commune)} == {"HTX", "KDC", "Kẻ Nủa"}


def test_a_bad_file_names_the_line_and_changes_nothing(setup: Setup) -> None:
    with setup.db.session() as s, pytest.raises(LexiconMalformed, match="dòng 2"):
        service.import_tsv(s, setup.as_user(s, setup.officer), setup.commune, b"A\ta\nB only\n", "xa.tsv")
    with setup.db.session() as s, pytest.raises(LexiconMalformed, match="UTF-8"):
        service.import_tsv(s, setup.as_user(s, setup.officer), setup.commune, b"A\ta\n\xff\xfe\tb\n", "xa.tsv")
    with setup.db.session() as s:
        assert s.scalars(select(LexiconEntry)).all() == []


def test_next_rendering_reads_the_commune_entry_and_keys_on_it(setup: Setup, tmp_path: Path) -> None:
    speech = SpeechService(make_settings(tmp_path / "speech"), lexicons=CommuneLexicons(setup.db))
    text = "Họp tại NVH thôn Đoài, mã SGTGT."
    before = speech.render_text(text, commune_id=setup.commune)
    assert "ét giê tê giê tê" in speech.spoken_form(text, commune_id=setup.commune)
    with setup.db.session() as s:
        service.add_entry(s, setup.as_user(s, setup.officer), setup.commune, EntryFields("SGTGT", "sổ ghi tê ghi tê"))
    assert "sổ ghi tê ghi tê" in speech.spoken_form(text, commune_id=setup.commune)
    after = speech.render_text(text, commune_id=setup.commune)
    assert not after.cache_hit and after.sha256 != before.sha256  # a new key: the sound changed
    # The other commune and the built-in reading are not touched.
    assert "ét giê tê giê tê" in speech.spoken_form(text, commune_id=setup.other_commune)
    assert speech.render_text(text, commune_id=setup.other_commune).cache_hit
    # An entry the text does not use leaves its key alone: no needless re-rendering.
    with setup.db.session() as s:
        service.add_entry(s, setup.as_user(s, setup.officer), setup.commune, EntryFields("Kẻ Nủa", "Kẻ Nủa"))
    assert speech.render_text(text, commune_id=setup.commune).cache_hit


def test_a_composition_reads_the_commune_entries_once_and_holds_them(setup: Setup, tmp_path: Path) -> None:
    speech = SpeechService(make_settings(tmp_path / "speech"), lexicons=CommuneLexicons(setup.db))
    text = "Họp tại NVH thôn Đoài, mã SGTGT."
    with speech.one_reading(setup.commune):
        first = speech.spoken_form(text, commune_id=setup.commune)
        with setup.db.session() as s:
            service.add_entry(s, setup.as_user(s, setup.officer), setup.commune, EntryFields("SGTGT", "sổ ghi tê ghi tê"))
        # Every piece of one programme is read alike, even if the lexicon changes meanwhile.
        assert speech.spoken_form(text, commune_id=setup.commune) == first
        assert "ét giê tê giê tê" in first
    assert "sổ ghi tê ghi tê" in speech.spoken_form(text, commune_id=setup.commune)  # after it: as it is now
