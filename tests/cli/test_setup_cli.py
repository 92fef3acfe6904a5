"""From an empty server to a provisioned speaker with the command line alone, as the README shows (item 11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from broadcaster.agent.config import load_agent_config


def _cli(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "broadcaster", *args[:1], "--config", str(config), *args[1:]],
                          input=stdin, capture_output=True, text=True, timeout=120, check=False)


def test_commune_zone_and_speaker_from_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "broadcaster.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "public_url": "http://10.0.0.1:8000"}),
                      encoding="utf-8")
    steps = [
        (["user", "create", "tinh", "--role", "admin", "--password-stdin"], "mat-khau-quan-tri\n"),
        (["commune", "create", "xa-an-binh", "Xã An Bình", "--province", "Hà Giang"], ""),
        (["zone", "create", "xa-an-binh", "Thôn Đông"], ""),
        (["speaker", "add", "xa-an-binh", "Cụm loa nhà văn hóa", "--zone", "Thôn Đông",
          "--agent-url", "http://10.0.0.21:8700"], ""),
    ]
    for args, stdin in steps:
        result = _cli(config, *args, stdin=stdin)
        assert result.returncode == 0, (args, result.stderr)
    assert "speaker config 1" in result.stdout
    provisioned = _cli(config, "speaker", "config", "1", "-o", str(tmp_path / "cum-loa-1.yaml"))
    assert provisioned.returncode == 0, provisioned.stderr
    agent = load_agent_config(tmp_path / "cum-loa-1.yaml")
    assert str(agent.cluster_id) == "1"
    assert agent.server_url == "http://10.0.0.1:8000" and agent.port == 8700
    listing = _cli(config, "speaker", "list").stdout
    assert "xa-an-binh\tCụm loa nhà văn hóa" in listing
    assert _cli(config, "commune", "list").stdout.splitlines() == ["1\txa-an-binh\tXã An Bình\tdefault"]

    unknown_zone = _cli(config, "speaker", "add", "xa-an-binh", "Cụm 2", "--zone", "Thôn Tây")
    assert unknown_zone.returncode == 2 and unknown_zone.stderr.startswith("Lỗi [zone_not_found]:")
    taken = _cli(config, "commune", "create", "xa-an-binh", "Xã Trùng")
    assert taken.returncode == 2 and "Lỗi [" in taken.stderr and "Traceback" not in taken.stderr
