"""The database layer on both backends: driver URLs, values PostgreSQL refuses, aware times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from broadcaster.db import Database, ValueNotStorable, driver_url
from broadcaster.models import Commune, SchedulerLease
from tests.databases import database_url


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    assert driver_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert driver_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert driver_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert driver_url("sqlite:///x.sqlite3") == "sqlite:///x.sqlite3"


def test_times_come_back_aware_utc_whatever_zone_they_went_in(tmp_path: Path) -> None:
    db = Database(database_url(tmp_path))
    db.upgrade()
    hanoi = datetime(2026, 12, 1, 6, 0, tzinfo=timezone(timedelta(hours=7)))
    with db.session() as session:
        session.add(SchedulerLease(name="thu", holder="a", expires_at=hanoi))
    with db.session() as session:
        stored = session.get_one(SchedulerLease, "thu").expires_at
    assert stored == hanoi and stored.tzinfo == UTC
    db.dispose()


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize("fields", [{"code": "x" * 65}, {"code": "nul", "name": "Xã\x00"}])
def test_a_value_postgresql_refuses_is_a_coded_input_error_not_a_crash(tmp_path: Path, fields: dict[str, str]) -> None:
    db = Database(database_url(tmp_path))
    db.upgrade()
    with pytest.raises(ValueNotStorable) as refused, db.session() as session:
        session.add(Commune(**{"name": "Xã Thử", **fields}))
        session.flush()
    assert refused.value.code == "value_not_storable" and refused.value.status == 422
    with db.session() as session:
        assert session.query(Commune).count() == 0  # nothing half-stored
    db.dispose()
