"""The Alembic migrations build exactly the schema the models describe, and the audit log is append-only."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from broadcaster.db import Database
from broadcaster.migrations.env_support import include_object
from broadcaster.models import AuditEvent, Base, Commune, Role, User
from tests.databases import database_url


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(database_url(tmp_path, empty=True))
    db.upgrade()
    return db


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        # A table APScheduler owns must not show up as a difference.
        connection.execute(sa.text("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY)"))
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrading_twice_changes_nothing(database: Database) -> None:
    database.upgrade()
    with database.engine.connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version.isdigit() and len(version) == 4


def test_audit_events_cannot_be_changed_or_deleted(database: Database) -> None:
    with database.session() as session:
        session.add(AuditEvent(action="submit", object_type="bulletin", object_id=1))
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), database.session() as session:
            session.execute(sa.text(statement))
    with database.session() as session:
        assert session.scalars(sa.select(AuditEvent.action)).all() == ["submit"]


def test_audit_events_keep_the_ids_of_deleted_communes_and_users(database: Database) -> None:
    with database.session() as session:
        commune = Commune(code="xa-xoa", name="Xã Xóa")
        session.add(commune)
        session.flush()
        user = User(username="tam-thoi", role=Role.ADMIN, commune_id=commune.id, password_hash="x")
        session.add(user)
        session.flush()
        ids = (user.id, commune.id)
        session.add(AuditEvent(actor_id=user.id, commune_id=commune.id, action="create", object_type="commune",
                               object_id=commune.id))
    with database.session() as session:
        # No foreign key: nothing is set to NULL (which the append-only triggers would refuse).
        session.delete(session.get_one(User, ids[0]))
        session.delete(session.get_one(Commune, ids[1]))
    with database.session() as session:
        event = session.scalars(sa.select(AuditEvent)).one()
        assert (event.actor_id, event.commune_id) == ids
        # Nor are the ids handed out again, so old events never read as a new commune's or user's.
        commune = Commune(code="xa-moi", name="Xã Mới")
        session.add(commune)
        session.flush()
        user = User(username="nguoi-moi", role=Role.ADMIN, password_hash="x")
        session.add(user)
        session.flush()
        assert commune.id > ids[1] and user.id > ids[0]


def test_replicas_starting_together_migrate_once(tmp_path: Path) -> None:
    # Four "replicas" upgrade one empty database at the same moment: the migration lock lets the
    # first run every migration; the others wait, find the schema at head and change nothing.
    url = database_url(tmp_path / "shared", empty=True)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def replica() -> None:
        db = Database(url)
        try:
            start.wait()
            db.upgrade()
        except BaseException as error:  # noqa: BLE001 - collected and shown below
            errors.append(error)
        finally:
            db.dispose()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    db = Database(url)
    with db.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []
    db.dispose()
