"""Bulletin, workflow and auth services on a real SQLite database: races, tokens, passwords."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from broadcaster.clock import SystemClock
from broadcaster.config import PROJECT_ROOT
from broadcaster.db import Database
from broadcaster.errors import BroadcasterError
from broadcaster.models import ApiToken, AuditEvent, Bulletin, BulletinStatus, Role, User
from broadcaster.services import auth, registry, users
from broadcaster.services.bulletins import BulletinFields, BulletinService, BulletinWrongStatus
from broadcaster.services.workflow import Workflow
from broadcaster.uploads import UploadStore
from tests.databases import database_url

PASSWORD = "mat-khau-dich-vu"


@dataclass
class Setup:
    db: Database
    uploads: UploadStore
    commune_id: int
    officer_id: int
    approver_ids: tuple[int, int]

    def run(self, fn: Callable[[BulletinService, Workflow, Any], Any], user_id: int) -> Any:
        """Run ``fn`` with services on a session of its own, as ``user_id``."""
        with self.db.session() as session:
            service = BulletinService(session, clock=SystemClock(), uploads=self.uploads)
            workflow = Workflow(service, programming=lambda: pytest.fail("no programming needed"))
            return fn(service, workflow, session.get(User, user_id))


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    db = Database(database_url(tmp_path))
    db.upgrade()
    with db.session() as session:
        commune = registry.create_commune(session, None, code="xa-thu", name="Xã Thử",
                                          schedules_dir=PROJECT_ROOT / "schedules")
        officer = users.create_user(session, None, username="canbo", password=PASSWORD, role=Role.OFFICER,
                                    commune_id=commune.id)
        approvers = [users.create_user(session, None, username=f"lanhdao{i}", password=PASSWORD,
                                       role=Role.APPROVER, commune_id=commune.id) for i in (1, 2)]
        ids = (commune.id, officer.id, (approvers[0].id, approvers[1].id))
    yield Setup(db, UploadStore(tmp_path / "uploads", max_bytes=1024 * 1024, max_duration_s=60),
                ids[0], ids[1], ids[2])
    db.dispose()


def _race(*actions: Callable[[], Any]) -> list[Any]:
    """Start the actions together in threads; each result is its return value or the exception it raised."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except BroadcasterError as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


FIELDS = BulletinFields(title="Thu gom rác", text="Thứ Bảy này thu gom rác thải tại các thôn.")


def test_two_approvers_at_once_approve_once(setup: Setup) -> None:
    bulletin_id = setup.run(lambda s, w, u: w.submit(u, s.create(u, FIELDS).bulletin.id).id, setup.officer_id)
    results = _race(*(lambda a=approver: setup.run(lambda s, w, u: w.approve(u, bulletin_id).status, a)
                      for approver in setup.approver_ids))
    assert sorted(map(type, results), key=str) == sorted([BulletinStatus, BulletinWrongStatus], key=str)
    with setup.db.session() as session:
        approvals = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.object_id == bulletin_id, AuditEvent.action == "approve"))
        assert approvals == 1


def test_racing_retries_with_one_idempotency_key_make_one_bulletin(setup: Setup) -> None:
    def create() -> tuple[int, bool]:
        created = setup.run(lambda s, w, u: s.create(u, FIELDS, idempotency_key="k-1"), setup.officer_id)
        return created.bulletin.id, created.created

    results = _race(create, create, create)
    assert len({bulletin_id for bulletin_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, True]
    with setup.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Bulletin)) == 1


def test_passwords_are_argon2_and_tokens_are_stored_hashed(setup: Setup) -> None:
    with setup.db.session() as session:
        officer = session.get(User, setup.officer_id)
        assert officer is not None and officer.password_hash.startswith("$argon2id$")
        assert auth.verify_password(officer.password_hash, PASSWORD)
        assert not auth.verify_password(officer.password_hash, PASSWORD + "x")
        issued = auth.login(session, "CanBo", PASSWORD, ttl=timedelta(days=1))
        stored = session.scalars(select(ApiToken.token_sha256)).all()
        assert issued.token not in stored and auth.token_digest(issued.token) in stored
        assert auth.authenticate(session, issued.token).id == officer.id


@pytest.mark.parametrize("spoil", ["expired", "revoked", "disabled", "unknown"])
def test_bad_tokens_are_refused(setup: Setup, spoil: str) -> None:
    with setup.db.session() as session:
        officer = session.get(User, setup.officer_id)
        assert officer is not None
        ttl = timedelta(seconds=-1) if spoil == "expired" else timedelta(days=1)
        token = auth.issue_token(session, officer, ttl=ttl).token
        if spoil == "revoked":
            auth.revoke(session, token)
        if spoil == "disabled":
            officer.is_active = False
            session.commit()
        if spoil == "unknown":
            token = token[:-4] + "AAAA"
        with pytest.raises(auth.TokenInvalid):
            auth.authenticate(session, token)
        with pytest.raises(auth.TokenMissing):
            auth.authenticate(session, None)


def test_a_rejected_login_says_nothing_about_the_account(setup: Setup) -> None:
    with setup.db.session() as session:
        with pytest.raises(auth.LoginFailed) as wrong_password:
            auth.login(session, "canbo", "sai", ttl=timedelta(days=1))
        with pytest.raises(auth.LoginFailed) as no_account:
            auth.login(session, "khongco", "sai", ttl=timedelta(days=1))
        assert wrong_password.value.message == no_account.value.message


def test_the_window_uses_the_communes_date(setup: Setup) -> None:
    created = setup.run(lambda s, w, u: (s.create(u, FIELDS).bulletin, s.today()), setup.officer_id)
    bulletin, today = created
    assert bulletin.start_date == today == bulletin.end_date
