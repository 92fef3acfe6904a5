"""``broadcaster agent`` configuration: file plus flags, and clear errors instead of tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from broadcaster.agent.config import AgentConfigError, load_agent_config
from broadcaster.cli import main
from tests.agent.harness import OrderMaker


def _write(path: Path, values: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def test_flags_override_the_file(tmp_path: Path, maker: OrderMaker) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    config_file = _write(tmp_path / "agent.yaml", {
        "cluster_id": "thon-1", "server_url": "http://127.0.0.1:8000", "server_public_keys": [maker.public_key],
        "secret": "inline", "port": 8700,
    })

    config = load_agent_config(config_file, port=9000, secret_file=secret_file, player=None)

    assert config.port == 9000 and config.player == "aplay"
    assert config.report_secret() == "from-file"
    assert "inline" not in repr(config)  # secrets stay out of logs


def test_bad_config_is_reported_in_vietnamese_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = _write(tmp_path / "agent.yaml", {"cluster_id": "thon 1", "server_url": "x", "secret": "s"})

    assert main(["agent", "--config", str(config_file)]) == 2
    err = capsys.readouterr().err
    assert "Lỗi [agent_config_invalid]" in err and "cluster_id" in err and "server_public_keys" in err


def test_a_bad_public_key_is_refused_before_listening(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file = _write(tmp_path / "agent.yaml", {
        "cluster_id": "thon-1", "server_url": "http://127.0.0.1:1", "server_public_keys": ["AAAA"],
        "secret": "s", "player": "null", "state_dir": str(tmp_path / "state"), "port": 0,
    })

    assert main(["agent", "--config", str(config_file)]) == 2
    assert "Lỗi [public_key_invalid]" in capsys.readouterr().err


def test_missing_secret_is_an_error(tmp_path: Path, maker: OrderMaker) -> None:
    with pytest.raises(AgentConfigError):
        load_agent_config(None, cluster_id="thon-1", server_url="http://x", server_public_keys=[maker.public_key])
