"""No traceback reaches a user (issue 10, items 9 and 12): every case gets one ``Lỗi [code]: …`` line and a
non-zero exit, from a real ``broadcaster`` process; and the CLI's own words are Vietnamese."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BROADCASTER = [sys.executable, "-m", "broadcaster"]


def run(args: list[str], tmp_path: Path, *, env: dict[str, str] | None = None,
        stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "BROADCASTER_DATA_DIR": str(tmp_path / "data"),
                   "BROADCASTER_CACHE_DIR": str(tmp_path / "cache"), **(env or {})}
    return subprocess.run([*BROADCASTER, *args], stdin=stdin, capture_output=True, text=True, env=environment,
                          cwd=tmp_path, timeout=120, check=False)


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: str) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "File \"" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Lỗi [")]
    assert len(lines) == 1 and lines[0].startswith(f"Lỗi [{code}]: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["serve"], ["user", "list"], ["speaker", "list"]])
def test_a_missing_config_file_is_named(command: list[str], tmp_path: Path) -> None:
    result = run([command[0], "--config", "khong-co.yaml", *command[1:]], tmp_path)
    assert "khong-co.yaml" in assert_one_error_line(result, "config_not_found")


def test_an_unknown_key_in_the_config_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "cau-hinh.yaml").write_text("engins: [espeak]\n", encoding="utf-8")
    line = assert_one_error_line(run(["serve", "--config", "cau-hinh.yaml"], tmp_path), "config_invalid")
    assert "engins" in line and "cau-hinh.yaml" in line


def test_a_malformed_environment_variable_is_named(tmp_path: Path) -> None:
    result = run(["user", "list"], tmp_path, env={"BROADCASTER_ENGINES": "gtts,espeak"})
    assert "BROADCASTER_ENGINES" in assert_one_error_line(result, "config_invalid")


def test_user_create_without_a_terminal_or_stdin_says_how(tmp_path: Path) -> None:
    result = run(["user", "create", "tinh", "--role", "admin"], tmp_path)
    assert "--password-stdin" in assert_one_error_line(result, "password_unavailable")
    empty = run(["user", "create", "tinh", "--role", "admin", "--password-stdin"], tmp_path)
    assert_one_error_line(empty, "password_unavailable")


def test_a_database_url_whose_driver_is_not_installed(tmp_path: Path) -> None:
    result = run(["user", "list"], tmp_path, env={"BROADCASTER_DATABASE_URL": "postgresql+pg8000://u@127.0.0.1/x"})
    assert "PostgreSQL" in assert_one_error_line(result, "database_driver_missing")


def test_demo_with_an_empty_text_says_what_is_wrong(tmp_path: Path) -> None:
    result = run(["demo", "--text", "", "--temp"], tmp_path)
    assert "trống" in assert_one_error_line(result, "text_empty")


def test_usage_errors_and_help_are_vietnamese(tmp_path: Path) -> None:
    result = run(["say", "--repeat", "ba", "Xin chào."], tmp_path)
    assert "--repeat" in assert_one_error_line(result, "cli_usage") and result.returncode == 2
    assert "Cách dùng: broadcaster say" in result.stderr and "usage:" not in result.stderr
    missing = run(["user", "create", "tinh"], tmp_path)
    assert "thiếu đối số bắt buộc: --role" in assert_one_error_line(missing, "cli_usage")
    for args in (["--help"], ["say", "--help"], ["user", "create", "--help"]):
        shown = run(args, tmp_path).stdout
        assert shown.startswith("Cách dùng: ") and "tùy chọn:" in shown and "in hướng dẫn này rồi thoát" in shown
        assert not {"usage:", "options:", "show this help", "positional arguments"} & set(shown.split("\n"))
        assert "show this help message" not in shown and "positional arguments" not in shown
    assert "tải lên" in run(["say", "--help"], tmp_path).stdout


def test_version(tmp_path: Path) -> None:
    from broadcaster import __version__

    result = run(["--version"], tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"broadcaster {__version__}"


def test_say_output_follows_its_suffix_and_never_makes_folders(tmp_path: Path) -> None:
    wav = run(["say", "Xin chào bà con.", "-o", "tin.wav"], tmp_path)
    assert wav.returncode == 0, wav.stderr
    assert (tmp_path / "tin.wav").read_bytes()[:4] == b"RIFF"  # WAV bytes, not MP3 named .wav
    clash = run(["say", "Xin chào.", "-o", "tin2.wav", "--format", "mp3"], tmp_path)
    assert "--format" in assert_one_error_line(clash, "say_output_invalid")
    unknown = run(["say", "Xin chào.", "-o", "tin.m4a"], tmp_path)
    assert ".m4a" in assert_one_error_line(unknown, "say_output_invalid")
    folder = run(["say", "Xin chào.", "-o", "chua-co/tin.mp3"], tmp_path)
    assert "chua-co" in assert_one_error_line(folder, "say_output_invalid")
    assert not (tmp_path / "chua-co").exists() and not (tmp_path / "tin2.wav").exists()


def test_say_upload_of_a_missing_file_names_it(tmp_path: Path) -> None:
    result = run(["say", "--upload", "ghi-am-khong-co.m4a"], tmp_path)
    assert "ghi-am-khong-co.m4a" in assert_one_error_line(result, "say_input_missing")


def test_gtts_offline_is_one_short_vietnamese_line(tmp_path: Path) -> None:
    # Nothing listens on this port: gTTS cannot connect, as on a machine without Internet.
    result = run(["say", "Xin chào.", "--engine", "gtts", "--no-fallback", "-o", "x.mp3"], tmp_path,
                 env={"BROADCASTER_GTTS_BASE_URL": "http://127.0.0.1:9", "BROADCASTER_GTTS_TIMEOUT_S": "1"})
    line = assert_one_error_line(result, "tts_engine_failed")
    assert len(result.stderr) < 400 and "HTTPSConnectionPool" not in result.stderr and "attempt" not in result.stderr
    assert "gtts" in line
