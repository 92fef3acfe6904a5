"""``broadcaster user``: the first admin and accounts from the command line, then a token that works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from broadcaster.config import load_settings
from broadcaster.db import Database
from broadcaster.services import auth
from tests.databases import database_url


def _cli(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "broadcaster", "user", "--config", str(config), *args],
                          input=stdin, capture_output=True, text=True, timeout=120, check=False)


def test_create_admin_issue_token_and_refuse_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "broadcaster.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"),
                                     "database_url": database_url(tmp_path / "data")}), encoding="utf-8")

    created = _cli(config, "create", "tinh", "--role", "admin", "--password-stdin", stdin="mat-khau-quan-tri\n")
    assert created.returncode == 0, created.stderr
    assert "tinh" in created.stdout

    token = _cli(config, "token", "tinh").stdout.strip()
    db = Database(load_settings(config).effective_database_url)
    with db.session() as session:
        assert auth.authenticate(session, token).username == "tinh"
    db.dispose()

    weak = _cli(config, "create", "canbo", "--role", "officer", "--commune", "xa-khong-co", "--password-stdin",
                stdin="mat-khau-du-dai\n")
    assert weak.returncode == 2 and weak.stderr.startswith("Lỗi [commune_not_found]:")
    duplicate = _cli(config, "create", "tinh", "--role", "admin", "--password-stdin", stdin="mat-khau-quan-tri\n")
    assert duplicate.returncode == 2 and "[username_taken]" in duplicate.stderr
    listing = _cli(config, "list")
    assert listing.stdout.splitlines() == ["1\ttinh\tadmin\ttỉnh"]
