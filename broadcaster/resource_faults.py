"""Resource faults (a full disk, a locked database) recognised in low-level errors and named for people.

A full disk or another writer holding the database lock is not a bug: the request did nothing
(its transaction rolled back, its temporary file was removed) and the same request will work once
space is freed or the lock released. ``as_resource_error`` turns the driver's or the OS's error
into ``StorageFull`` or ``DatabaseBusy``, each with a stable code, a Vietnamese message and a
Retry-After, so that the API and the pages answer 503 instead of an "unexpected error" 500.

Recognised anywhere in the exception's chain (``__cause__`` / ``__context__``):
- ``OSError`` ENOSPC or EDQUOT (files: uploads, the audio cache, keys);
- SQLite: SQLITE_FULL, SQLITE_BUSY, SQLITE_LOCKED;
- PostgreSQL, by SQLSTATE: 53100 disk_full, 53200 out_of_memory, 55P03 lock_not_available,
  57014 query_canceled (a lock or statement timeout), 40P01 deadlock, 40001 serialization failure.
"""

from __future__ import annotations

import errno
import sqlite3
import sys

from broadcaster.errors import BroadcasterError, DatabaseBusy, StorageFull

STORAGE_FULL_MESSAGE = ("Ổ đĩa của máy chủ đã đầy nên chưa lưu được. Không có gì bị mất; "
                        "hãy thử lại sau ít phút (quản trị viên cần giải phóng dung lượng).")
DATABASE_BUSY_MESSAGE = ("Cơ sở dữ liệu đang bận (một tiến trình khác đang ghi). Không có gì bị mất; "
                         "hãy thử lại sau vài giây.")

_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_FULL = 5, 6, 13
_PG_STORAGE = {"53100", "53200"}
_PG_BUSY = {"55P03", "57014", "40P01", "40001"}


def storage_full(detail: str) -> StorageFull:
    """The ``StorageFull`` error with the standard message."""
    return StorageFull(STORAGE_FULL_MESSAGE, detail=detail)


def database_busy(detail: str) -> DatabaseBusy:
    """The ``DatabaseBusy`` error with the standard message."""
    return DatabaseBusy(DATABASE_BUSY_MESSAGE, detail=detail)


def as_resource_error(error: BaseException) -> BroadcasterError | None:
    """``StorageFull`` / ``DatabaseBusy`` if ``error`` (or what caused it) is that fault, else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StorageFull | DatabaseBusy):
            return current
        found = _classify(current)
        if found is not None:
            return found
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def _classify(error: BaseException) -> BroadcasterError | None:
    if isinstance(error, sqlite3.Error):
        code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
        text = str(error).lower()
        if code == _SQLITE_FULL or "disk is full" in text:
            return storage_full(f"sqlite: {error}")
        if code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text:
            return database_busy(f"sqlite: {error}")
        return None
    if isinstance(error, OSError) and error.errno in _DISK_ERRNOS:
        return storage_full(f"{type(error).__name__}: {error}")
    if _pool_exhausted(error):
        return database_busy(f"connection pool exhausted: {error}")
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if sqlstate in _PG_STORAGE:
        return storage_full(f"postgresql {sqlstate}: {error}")
    if sqlstate in _PG_BUSY:
        return database_busy(f"postgresql {sqlstate}: {error}")
    return None


def _pool_exhausted(error: BaseException) -> bool:
    """SQLAlchemy's pool timeout: every pooled connection busy for ``pool_timeout``.

    Looked up only if SQLAlchemy is loaded: the agent, which uses this module too, never loads it
    (importing it would cost each agent start a fifth of a second), and then no error can be one of its.
    """
    exc = sys.modules.get("sqlalchemy.exc")
    return exc is not None and isinstance(error, exc.TimeoutError)


def public_error(error: BaseException) -> BroadcasterError | None:
    """The error to answer with: ours (with a resource fault's code if one caused it), a fault found, or None.

    A 5xx error of ours caused by a full disk or a busy database keeps its own, more specific
    message but takes the fault's code and Retry-After; None means a genuinely unexpected error.
    """
    if isinstance(error, BroadcasterError):
        if error.status < 500 or isinstance(error, StorageFull | DatabaseBusy):
            return error
        cause = error.__cause__ or error.__context__
        fault = as_resource_error(cause) if cause is not None else None
        if fault is None:
            return error
        return type(fault)(error.message, detail=f"{error.code}: {error.detail or ''} ({fault.detail})")
    return as_resource_error(error)
