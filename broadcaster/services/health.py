"""Is the service able to do its work? The database takes writes, the disks have room, a scheduler leads.

``check_health`` answers ``/health`` with what is wrong, each problem with a stable code and a
Vietnamese message, so whoever watches the service learns *why* it is degraded:

- the database answers a read, and takes a write (this node's ``service_nodes`` row, committed
  with a short lock timeout): ``database_busy`` when another writer holds the lock,
  ``storage_full`` when the disk under it is full, ``database_unavailable`` otherwise;
- the disks of the data directory and the audio cache have ``min_free_disk_bytes`` free
  (``disk_space_low``);
- some process holds the scheduler lease (``scheduler_lease_not_held``: no session would air).

Also the metrics' query: how many bulletins are in each status.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.orm import Session

from broadcaster.db import Database, utc_now
from broadcaster.models import Bulletin, SchedulerLease, ServiceNode
from broadcaster.node_identity import NodeIdentity
from broadcaster.resource_faults import as_resource_error
from broadcaster.scheduler.lease import LEASE_NAME

log = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 1.0  # /health must answer while a writer holds the lock: wait this long, not the full timeout
DatabaseState = Literal["ok", "busy", "full", "error"]
SchedulerState = Literal["leader", "standby", "off"]
LeaseState = Literal["held_here", "held_elsewhere", "not_held", "unknown"]


@dataclass(frozen=True)
class HealthProblem:
    """One reason the service is degraded: a stable code and what it means, in Vietnamese."""

    code: str
    message: str


@dataclass(frozen=True)
class DiskSpace:
    """Free space where the service writes."""

    name: str  # "data" or "cache"
    path: str
    free_bytes: int
    ok: bool


@dataclass(frozen=True)
class HealthReport:
    """The answer of ``/health``."""

    database: DatabaseState
    scheduler: SchedulerState
    scheduler_lease: LeaseState
    disks: list[DiskSpace] = field(default_factory=list)
    problems: list[HealthProblem] = field(default_factory=list)

    @property
    def status(self) -> Literal["ok", "degraded"]:
        """``ok`` with no problem at all."""
        return "degraded" if self.problems else "ok"


def check_health(db: Database, node: NodeIdentity, *, disks: dict[str, Path], min_free_bytes: int,
                 scheduler: SchedulerState) -> HealthReport:
    """Probe the database (read and write), the disks and the scheduler lease."""
    problems: list[HealthProblem] = []
    database = probe_database(db, node, problems)
    spaces = [disk_space(name, path, min_free_bytes, problems) for name, path in disks.items()]
    lease = _lease_state(db, node, scheduler, problems) if database != "error" else "unknown"
    return HealthReport(database, scheduler, lease, spaces, problems)


def probe_database(db: Database, node: NodeIdentity, problems: list[HealthProblem]) -> DatabaseState:
    """Read, then commit a write with a short lock timeout; what state the database is in."""
    sqlite = db.engine.dialect.name == "sqlite"
    try:
        with db.engine.connect() as connection:
            try:
                if sqlite:
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={int(PROBE_TIMEOUT_S * 1000)}")
                elif db.engine.dialect.name == "postgresql":
                    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(PROBE_TIMEOUT_S * 1000)}ms'")
                connection.execute(text("SELECT 1")).scalar_one()
                _touch_node(connection, node)
                connection.commit()
            finally:
                connection.rollback()
                if sqlite:  # back to the pool with its usual patience
                    connection.exec_driver_sql(f"PRAGMA busy_timeout={int(db.busy_timeout_s * 1000)}")
                    connection.commit()
        return "ok"
    except Exception as error:  # noqa: BLE001 - any failure is an answer here, and the answer is reported
        fault = as_resource_error(error)
        if fault is not None and fault.code == "database_busy":
            problems.append(HealthProblem("database_busy", "Cơ sở dữ liệu đang bị một tiến trình khác khóa ghi; "
                                                           "các thao tác ghi phải chờ hoặc báo bận."))
            return "busy"
        if fault is not None:
            problems.append(HealthProblem("storage_full", "Không ghi được vào cơ sở dữ liệu vì ổ đĩa đã đầy."))
            return "full"
        log.warning("health: database unavailable: %r", error)
        problems.append(HealthProblem("database_unavailable", "Không truy cập được cơ sở dữ liệu."))
        return "error"


def _touch_node(connection: Connection, node: NodeIdentity) -> None:
    values = {"holder": node.holder_id(), "seen_at": utc_now()}
    updated = connection.execute(update(ServiceNode).where(ServiceNode.node_id == node.node_id).values(**values))
    if updated.rowcount == 0:
        connection.execute(insert(ServiceNode).values(node_id=node.node_id, **values))


def disk_space(name: str, path: Path, min_free_bytes: int, problems: list[HealthProblem]) -> DiskSpace:
    """Free bytes on the disk holding ``path`` (its nearest existing parent); a problem if below the minimum."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    ok = free >= min_free_bytes
    if not ok:
        label = "dữ liệu" if name == "data" else "bộ nhớ đệm âm thanh"
        problems.append(HealthProblem(
            "disk_space_low" if free else "storage_full",
            f"Ổ đĩa chứa {label} ({path}) chỉ còn {_megabytes(free)} trống, "
            f"cần ít nhất {_megabytes(min_free_bytes)}."))
    return DiskSpace(name, str(path), free, ok)


def _lease_state(db: Database, node: NodeIdentity, scheduler: SchedulerState,
                 problems: list[HealthProblem]) -> LeaseState:  # fmt: skip
    if scheduler == "leader":
        return "held_here"
    try:
        with db.session() as s:
            row = s.get(SchedulerLease, LEASE_NAME)
            holder, expires_at = (row.holder, row.expires_at) if row is not None else (None, None)
    except Exception:  # noqa: BLE001 - the database probe reported the failure already
        return "unknown"
    if holder is not None and expires_at is not None and expires_at > utc_now() and not node.owns(holder):
        return "held_elsewhere"
    problems.append(HealthProblem("scheduler_lease_not_held",
                                  "Không máy chủ nào đang giữ quyền điều phối lịch phát: các buổi phát sẽ không "
                                  "được soạn cho tới khi một máy chủ chạy bộ lập lịch."))
    return "not_held"


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:.0f} MB" if size >= 1024**2 else f"{size // 1024} kB"


def bulletin_counts(session: Session) -> dict[tuple[int, str], int]:
    """Number of bulletins per (commune id, status)."""
    rows = session.execute(
        select(Bulletin.commune_id, Bulletin.status, func.count()).group_by(Bulletin.commune_id, Bulletin.status)
    ).all()
    return {(commune_id, str(status)): count for commune_id, status, count in rows}
