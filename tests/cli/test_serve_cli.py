"""``broadcaster serve``: an error at start-up is one Vietnamese line and exit code 2, not a traceback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from broadcaster.config import PROJECT_ROOT
from tests.databases import database_url
from tests.scheduler.processes import free_port

BAD_START = 'sessions:\n  - name: morning\n    start: "25:99"\n    days: [mon]\n    max_minutes: 10\n'
BAD_SYNTAX = "sessions: [\n  - name: morning\n"


@pytest.mark.parametrize(("content", "named"), [(BAD_START, "«sessions[0].start»"), (BAD_SYNTAX, "dòng")])
def test_a_malformed_timetable_stops_serve_with_one_line(tmp_path: Path, content: str, named: str) -> None:
    schedules = tmp_path / "schedules"
    schedules.mkdir()
    shutil.copy(PROJECT_ROOT / "schedules" / "default.yaml", schedules / "default.yaml")
    (schedules / "huyen_a.yaml").write_text(content, encoding="utf-8")
    env = {**os.environ, "BROADCASTER_SCHEDULES_DIR": str(schedules), "BROADCASTER_DATA_DIR": str(tmp_path / "data"),
           "BROADCASTER_CACHE_DIR": str(tmp_path / "cache"),
           "BROADCASTER_DATABASE_URL": database_url(tmp_path / "data")}
    # Port 0: were start-up to get as far as serving, it would not collide with anything.
    done = subprocess.run([sys.executable, "-m", "broadcaster", "serve", "--port", "0", "--log-level", "warning"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("Lỗi [")]
    assert line.startswith("Lỗi [timetable_invalid]: Lịch phát «huyen_a.yaml» không hợp lệ")
    assert named in line


def test_serve_starts_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "BROADCASTER_DATA_DIR": str(tmp_path / "data"), "BROADCASTER_CACHE_DIR": str(tmp_path / "cache"),
           "BROADCASTER_DATABASE_URL": database_url(tmp_path / "data")}
    server = subprocess.Popen([sys.executable, "-m", "broadcaster", "serve", "--port", str(port), "--log-level",
                               "warning"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        health = None
        for _ in range(600):  # start-up (migrations, speech) then the scheduler; give up after about a minute
            if server.poll() is not None:
                break
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None, server.stderr
        assert (health["status"], health["database"], health["scheduler"], health["scheduler_lease"]) == (
            "ok", "ok", "leader", "held_here"), (health, server.stderr)
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells how it ended.
    assert server.returncode in (0, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr
