"""Files only this account may read: 0600 files in 0700 directories, whatever the umask.

The database holds the clusters' report secrets and every draft; the cache's sidecars hold the
texts that were previewed; uploads are recordings not yet approved; the agent's state database
holds its orders. None of it is for other users of the machine. Modes are set explicitly (a
umask only ever removes bits, and a permissive one, 000, removes none), on creation and again on
start-up for files an older version created.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# What SQLite writes beside a database; it gives them the database file's own mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Make ``path`` a 0700 folder; the missing parents it creates are 0700 too (existing ones are left)."""
    missing = []
    cursor = path
    while not cursor.exists():
        missing.append(cursor)
        cursor = cursor.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            folder.mkdir(mode=DIRECTORY_MODE)
        os.chmod(folder, DIRECTORY_MODE)
    os.chmod(path, DIRECTORY_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing; either way make it 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def open_private(path: Path, mode: str = "wb") -> int:
    """A file descriptor for writing ``path`` (``wb``: truncate, ``ab``: append), created 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd


def private_sqlite(path: Path) -> Path:
    """Prepare a SQLite database file (0700 folder, 0600 file) before SQLite opens it.

    SQLite creates its WAL and shared-memory files with the database's own mode, so making the
    database 0600 first covers them; companions left by an older run are fixed here too.
    """
    private_dir(path.parent)
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(path.name + suffix), FILE_MODE)
    return path
