"""``broadcaster voices`` and ``broadcaster say`` with Piper, as an operator runs them after copying a voice in."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_say_cli import run
from tests.fakes.piper_voice import write_voice

VOICE = "vi_VN-test-x_low"


def test_voices_lists_each_voice_with_its_facts_or_its_problem(tmp_path: Path) -> None:
    voices = tmp_path / "data" / "voices"  # the default place: data_dir/voices
    write_voice(voices)
    (voices / "vi_VN-half-copied.onnx.json").write_text("{}", encoding="utf-8")
    result = run(["voices"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert str(voices.resolve()) in result.stdout
    good = next(line for line in result.stdout.splitlines() if f"piper:{VOICE}" in line)
    assert "✓" in good and "vi_VN" in good and "22050 Hz" in good and "CC0" in good
    broken = next(line for line in result.stdout.splitlines() if "piper:vi_VN-half-copied" in line)
    assert "KHÔNG dùng được" in broken and "vi_VN-half-copied.onnx" in broken
    assert "espeak:vi-vn-x-south" in result.stdout

    as_json = run(["voices", "--json"], tmp_path)
    listed = {item["choice"]: item for item in json.loads(as_json.stdout)}
    assert listed[f"piper:{VOICE}"]["usable"] is True
    assert listed[f"piper:{VOICE}"]["size_bytes"] == (voices / f"{VOICE}.onnx").stat().st_size


def test_voices_exits_1_when_an_engine_of_the_chain_has_no_usable_voice(tmp_path: Path) -> None:
    result = run(["voices"], tmp_path)
    assert result.returncode == 1
    assert "piper:-: KHÔNG dùng được" in result.stdout and "Chưa có giọng nào" in result.stdout


def test_say_speaks_with_piper_and_falls_back_clearly_without_a_voice(tmp_path: Path) -> None:
    without = run(["say", "Xin chào bà con.", "--engine", "piper", "-o", str(tmp_path / "a.mp3")], tmp_path)
    assert without.returncode == 0, without.stderr
    assert "bộ đọc espeak" in without.stdout
    assert "bộ đọc piper không dùng được: Chưa có giọng Piper nào" in without.stdout

    write_voice(tmp_path / "data" / "voices")
    spoken = run(["say", "Xin chào bà con.", "--voice", f"piper:{VOICE}", "-o", str(tmp_path / "b.mp3")], tmp_path)
    assert spoken.returncode == 0, spoken.stderr
    assert f"bộ đọc piper, giọng {VOICE}" in spoken.stdout and "không dùng được" not in spoken.stdout
    assert (tmp_path / "b.mp3").stat().st_size > 1000
