"""``broadcaster demo`` as a newcomer runs it: real server, three real agents, one bulletin aired."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from broadcaster.cli.demo_stack import ACCOUNTS, COMMUNE_CODE, demo_settings, seed_demo
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import Cluster, Commune, User
from broadcaster.services.auth import verify_password
from tests.agent.harness import BROADCASTER, free_port

# The demo is the embedded default: SQLite in its own directory, whatever the backend under test.
pytestmark = pytest.mark.backends("sqlite")


def test_demo_airs_the_bulletin_on_three_agents_and_exits_0(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BROADCASTER), "demo", "--dir", str(tmp_path / "demo"), "--port", str(free_port()),
         "--exit-after-airing", "--silent", "--text", "Thử hệ thống loa xã."],
        capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("đã phát xong") == 3, done.stdout
    for username, _role, _name in ACCOUNTS:
        assert f"{username} " in done.stdout  # the logins are printed
    assert (tmp_path / "demo" / "ban-tin-mau.mp3").stat().st_size > 1000
    for agent_json in (tmp_path / "demo" / "agents").glob("*/state*/agent.json"):
        raise AssertionError(f"an agent is still running: {agent_json}")
    configs = list((tmp_path / "demo").glob("agent-*.yaml"))
    assert len(configs) == 3 and all("transport: pull" in c.read_text() and "\nport:" not in c.read_text()
                                     for c in configs)
    # Everything it started has stopped: nobody answers on the demo's ports any more.
    url = re.search(r"Máy chủ: (http://127\.0\.0\.1:\d+)", done.stdout).group(1)  # type: ignore[union-attr]
    try:
        httpx.get(f"{url}/health", timeout=2)
        raise AssertionError("the demo server is still running")
    except httpx.ConnectError:
        pass


def test_seeding_again_keeps_the_commune_and_renews_the_passwords(tmp_path: Path) -> None:
    settings = demo_settings(Settings(schedules_dir=Path("schedules").resolve()), tmp_path, free_port())
    db = Database(settings.effective_database_url)
    db.upgrade()
    first = seed_demo(db, settings)
    second = seed_demo(db, settings)
    assert [c[0] for c in first.clusters] == [c[0] for c in second.clusters]
    assert first.passwords != second.passwords
    with db.session() as s:
        assert len(s.scalars(select(Commune).where(Commune.code == COMMUNE_CODE)).all()) == 1
        assert len(s.scalars(select(Cluster)).all()) == 3
        # The demo's boxes dial out: no agent URL to push to, no port on the boxes.
        assert {(c.transport, c.agent_url) for c in s.scalars(select(Cluster))} == {("pull", "")}
        for username, password in second.passwords.items():
            user = s.scalars(select(User).where(User.username == username)).one()
            assert verify_password(user.password_hash, password)
    db.dispose()
