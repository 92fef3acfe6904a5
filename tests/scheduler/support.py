"""Builders for scheduler and programming tests: a migrated database (of the test's backend) and registry rows.

Shared with tests/services (import ``tests.scheduler.support``); no fixtures here, only functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.db import Database, utc_now
from broadcaster.models import (
    Airing,
    AuditEvent,
    Bulletin,
    BulletinStatus,
    Cluster,
    Commune,
    Priority,
    Role,
    User,
    Zone,
)
from tests.databases import database_url


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings that keep everything under ``tmp_path`` (data, cache, schedules)."""
    schedules = tmp_path / "schedules"
    schedules.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
        "schedules_dir": schedules,
    }
    if "database_url" not in overrides:
        values["database_url"] = database_url(Path(overrides.get("data_dir", values["data_dir"])))
    return Settings(**{**values, **overrides})


def speech_settings(directory: Path) -> Settings:
    """Settings for a speech service shared by a module's tests: no database (it outlives a backend switch)."""
    return Settings(data_dir=directory / "data", cache_dir=directory / "cache",
                    database_url=f"sqlite:///{directory / 'unused.sqlite3'}")


def make_database(settings: Settings) -> Database:
    """The settings' database, migrated to head."""
    db = Database(settings.effective_database_url)
    db.upgrade()
    return db


def write_timetable(directory: Path, sessions: list[tuple[str, datetime, float]], name: str = "default",
                    days: str = "[mon, tue, wed, thu, fri, sat, sun]") -> Path:
    """A timetable file with sessions (name, local start, minutes) running every day."""
    lines = ["sessions:"]
    for session_name, start, minutes in sessions:
        lines += [f"  - name: {session_name}", f'    start: "{start.astimezone(LOCAL_ZONE):%H:%M:%S}"',
                  f"    days: {days}", f"    max_minutes: {minutes}"]  # fmt: skip
    path = directory / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def whole_second(moment: datetime) -> datetime:
    """``moment`` rounded up to the next whole second (timetables have second resolution)."""
    return (moment + timedelta(seconds=1)).replace(microsecond=0)


def add_commune(db: Database, *, code: str = "xa-thu", created_at: datetime | None = None,
                zones: tuple[str, ...] = (), clusters: tuple[tuple[str, str | None], ...] = (("Cụm 1", None),),
                override: dict[str, Any] | None = None, four_eyes: bool = True) -> dict[str, int]:
    """A commune with zones and clusters (name, zone name); ids by name, plus "commune" and "author"."""
    with db.session() as s:
        commune = Commune(code=code, name=f"Xã {code}", timetable_override=override, four_eyes=four_eyes,
                          created_at=created_at or utc_now() - timedelta(days=30))  # fmt: skip
        s.add(commune)
        s.flush()
        ids = {"commune": commune.id}
        zone_rows = {name: Zone(commune_id=commune.id, name=name) for name in zones}
        s.add_all(zone_rows.values())
        s.flush()
        ids.update({name: zone.id for name, zone in zone_rows.items()})
        for name, zone in clusters:
            cluster = Cluster(commune_id=commune.id, name=name, zone_id=zone_rows[zone].id if zone else None)
            s.add(cluster)
            s.flush()
            ids[name] = cluster.id
        author = User(username=f"officer-{code}", role=Role.APPROVER, commune_id=commune.id, password_hash="x")
        s.add(author)
        s.flush()
        ids["author"] = author.id
    return ids


def add_bulletin(db: Database, ids: dict[str, int], text: str, *, priority: Priority = Priority.NORMAL,
                 repeat: int = 1, start: date | None = None, end: date | None = None,
                 status: BulletinStatus = BulletinStatus.APPROVED, approved_at: datetime | None = None,
                 zones: tuple[str, ...] = (), clusters: tuple[str, ...] = (),
                 upload_sha256: str | None = None) -> int:
    """An approved bulletin for the whole commune (or for ``zones`` / ``clusters``); its id."""
    today = datetime.now(LOCAL_ZONE).date()
    with db.session() as s:
        bulletin = Bulletin(
            commune_id=ids["commune"], title=text[:40], text=None if upload_sha256 else text, priority=priority,
            target_all=not zones and not clusters, start_date=start or today - timedelta(days=1),
            end_date=end or today + timedelta(days=1), repeat=repeat, status=status, author_id=ids["author"],
            approver_id=ids["author"], decided_at=approved_at or utc_now(), upload_sha256=upload_sha256,
        )  # fmt: skip
        if zones:
            bulletin.zones = [s.get_one(Zone, ids[z]) for z in zones]
        if clusters:
            bulletin.clusters = [s.get_one(Cluster, ids[c]) for c in clusters]
        s.add(bulletin)
        s.flush()
        return bulletin.id


def airings(db: Database) -> list[Airing]:
    """Every airing with its items and deliveries, oldest first."""
    from sqlalchemy.orm import selectinload

    with db.session() as s:
        return list(s.scalars(select(Airing).order_by(Airing.id)
                              .options(selectinload(Airing.items), selectinload(Airing.deliveries))))  # fmt: skip


def events(db: Database, action: str | None = None) -> list[AuditEvent]:
    """Audit events (of one action), oldest first."""
    with db.session() as s:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(s.scalars(query))


def bulletin_status(db: Database, bulletin_id: int) -> BulletinStatus:
    """The stored status of a bulletin."""
    with db.session() as s:
        return s.get_one(Bulletin, bulletin_id).status


def wait_until(condition: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
