"""The database layer on both backends: driver URLs, values PostgreSQL refuses, aware times."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text

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


@pytest.mark.backends("postgresql")
def test_a_pooled_postgresql_connection_the_server_dropped_while_idle_is_replaced_before_use(tmp_path: Path) -> None:
    db = Database(database_url(tmp_path), ping_idle_s=0.0)  # every reused connection counts as idle
    db.upgrade()
    with db.session() as session:
        assert session.scalar(select(1)) == 1  # the pool now holds a live connection
    admin = Database(database_url(tmp_path))
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    with admin.session() as session:
        session.execute(text(f"SELECT pg_terminate_backend(pid) {others}"))
    deadline = time.monotonic() + 30
    while True:  # termination is a signal: wait until the backend is gone
        with admin.session() as session:
            if not session.scalar(text(f"SELECT count(*) {others}")):
                break
        assert time.monotonic() < deadline, "the pooled connection's backend did not go away"
        time.sleep(0.05)
    with db.session() as session:
        assert session.scalar(select(1)) == 1  # pinged, found dead, replaced: not an error
    admin.dispose()
    db.dispose()
