"""Secrets and drafts are 0600 files in 0700 folders whatever the umask (issue 10, item 6).

A child process with umask 000 (the most permissive a service could run with) starts a server
runtime (database, WAL, keys), previews a text (cache entry and its sidecar), stores a recording
and opens an agent's state database; then every file and folder they made is checked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from broadcaster.config import PROJECT_ROOT

SCRIPT = """
import io, os, sys
from pathlib import Path
os.umask(0)
from broadcaster.api.runtime import Runtime
from broadcaster.agent.store import AgentStore
from broadcaster.config import Settings
from broadcaster.delivery.keys import load_or_create_signing_key
from tests.api.world import wav_bytes
root = Path(sys.argv[1])
settings = Settings(data_dir=root / "data", cache_dir=root / "cache", schedules_dir=Path(sys.argv[2]),
                    run_scheduler=False, handoff="record")
runtime = Runtime(settings)
runtime.start_blocking()
with runtime.db.engine.connect() as connection:  # the WAL and SHM files exist while it is open
    connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS touched (x)")
    load_or_create_signing_key(settings.data_dir)
    runtime.speech.render_text("Bản nháp: họp dân lúc 19 giờ.")
    runtime.uploads.save(io.BytesIO(wav_bytes(0.5)))
    store = AgentStore(root / "agent-state" / "agent.sqlite3")
    for path in sorted(root.rglob("*")):  # while everything is open: WAL and SHM files exist
        print(oct(path.lstat().st_mode & 0o7777), "d" if path.is_dir() else "f", path.relative_to(root))
    store.close()
runtime.stop()
"""


def test_every_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(PROJECT_ROOT / "schedules")],
        capture_output=True, text=True, timeout=240, cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    made = [line.split(" ", 2) for line in result.stdout.splitlines() if line]
    names = {Path(path).name for _, _, path in made}
    assert {"broadcaster.sqlite3-wal", "broadcaster.sqlite3-shm", "agent.sqlite3-wal",
            "order-signing-key.pem"} <= names
    assert any(name.endswith(".json") for name in names)  # a cache sidecar, holding the draft's text
    wrong = [f"{path}: {mode}" for mode, kind, path in made if mode != {"d": "0o700", "f": "0o600"}[kind]]
    assert not wrong, wrong
