"""Another process holding the SQLite write lock: the real fault of a busy database.

``held_write_lock(path)`` starts a Python process that opens the database, takes the write lock
(``BEGIN IMMEDIATE``) and keeps it until the block ends, when the process is SIGKILLed (the
lock goes with it, as with any writer that dies).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.agent.harness import wait_for

_HOLDER = """
import sqlite3, sys, time, pathlib
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
pathlib.Path(sys.argv[2]).write_text("locked")
time.sleep(3600)
"""


@contextmanager
def held_write_lock(database: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process holding ``database``'s write lock for the duration of the block."""
    marker = database.with_name(f"{database.name}.locked-by-test")
    marker.unlink(missing_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(database), str(marker)])
    try:
        wait_for(marker.exists, 30, "another process to take the write lock")
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=10)
        marker.unlink(missing_ok=True)
