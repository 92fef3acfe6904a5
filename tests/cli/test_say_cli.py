"""``broadcaster say`` and ``broadcaster demo`` as a user runs them: real processes, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from broadcaster.audio.loudness import measure_loudness

BROADCASTER = [sys.executable, "-m", "broadcaster"]


def run(args: list[str | bytes], tmp_path: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BROADCASTER_CACHE_DIR": str(tmp_path / "cache"),
        "BROADCASTER_DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [*BROADCASTER, *args], input=stdin, capture_output=True, env=env, cwd=tmp_path, timeout=120, check=False
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace")
    )


def test_say_writes_levelled_mp3_and_reports_cache_duration_and_loudness(tmp_path: Path) -> None:
    out = tmp_path / "out.mp3"
    first = run(["say", "Thông báo lịch tiêm chủng ngày 5/12.", "-o", str(out), "--chime", "--repeat", "2"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "cache miss" in first.stdout and "LUFS" in first.stdout
    measured = measure_loudness(out)
    assert -17 <= measured.integrated_lufs <= -15 and measured.true_peak_dbtp <= -1.5
    assert f"{measured.duration_s:.1f} s" in first.stdout or abs(measured.duration_s) > 0

    second = run(["say", "Thông báo lịch tiêm chủng ngày 5/12.", "-o", str(out), "--chime", "--repeat", "2"], tmp_path)
    assert second.returncode == 0 and "cache hit" in second.stdout


def test_say_file_renders_each_line_with_a_progress_bar(tmp_path: Path) -> None:
    bulletins = tmp_path / "ban-tin.txt"
    bulletins.write_text("Thông báo họp thôn lúc 19h.\n\nLịch cắt điện ngày 7/12.\n", encoding="utf-8")
    result = run(["say", "--file", str(bulletins), "-o", str(tmp_path / "out")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ban-tin-0001.mp3", "ban-tin-0003.mp3"]
    assert "Đang đọc" in result.stderr and "2/3" not in result.stdout  # the bar goes to stderr


def test_say_upload_levels_a_recording(tmp_path: Path) -> None:
    from broadcaster.audio.codec import encode_audio
    from broadcaster.tts.base import SynthesisOptions, create_engine

    pcm = create_engine("espeak").synthesize("Bản tin tiếng Tày.", SynthesisOptions())
    recording = tmp_path / "ghi-am.wav"
    recording.write_bytes(encode_audio(pcm.__class__(pcm.samples * 0.1, pcm.sample_rate), "wav"))
    result = run(["say", "--upload", str(recording), "-o", str(tmp_path / "ra.mp3")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "upload" in result.stdout
    assert -17 <= measure_loudness(tmp_path / "ra.mp3").integrated_lufs <= -15


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["say", "", "-o", "x.mp3"], "text_empty"),
        (["say", "   \t ", "-o", "x.mp3"], "text_empty"),
        (["say", "🎉🎉🎉 ✨ ★★", "-o", "x.mp3"], "text_nothing_to_speak"),
        # Linux caps one argument at 128 KiB; the 200 kB case goes through --file below.
        (["say", "Thông báo " * 10_000, "-o", "x.mp3"], "text_too_long"),
        (["say", "Thông báo.", "--engine", "khong-co", "-o", "x.mp3"], "tts_unknown_engine"),
        (["say", "--upload", "not-there.mp3", "-o", "x.mp3"], "say_input_missing"),
    ],
)
def test_say_refuses_bad_input_with_a_message_not_a_traceback(args: list[str], code: str, tmp_path: Path) -> None:
    result = run(args, tmp_path)
    assert result.returncode != 0
    assert f"[{code}]" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.mp3").exists()


def test_say_file_reports_a_200_kb_line_as_too_long(tmp_path: Path) -> None:
    big = tmp_path / "lon.txt"
    big.write_text("Thông báo họp thôn. " * 10_000 + "\nThông báo ngắn.\n", encoding="utf-8")
    assert big.stat().st_size > 200_000
    result = run(["say", "--file", str(big), "-o", "out"], tmp_path)
    assert result.returncode != 0 and "[text_too_long]" in result.stderr and "Traceback" not in result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ban-tin-0002.mp3"]  # the good line still spoken


def test_say_refuses_unreadable_uploads_and_invalid_utf8(tmp_path: Path) -> None:
    corrupt = tmp_path / "hong.mp3"
    corrupt.write_bytes(b"ID3\x03\x00" + os.urandom(4000))
    result = run(["say", "--upload", str(corrupt), "-o", "x.mp3"], tmp_path)
    assert result.returncode != 0 and "[audio_unreadable]" in result.stderr and "Traceback" not in result.stderr

    bad_file = tmp_path / "sai.txt"
    bad_file.write_bytes("Dòng một.\nDòng hai ".encode() + b"\xff\xfe\n")
    result = run(["say", "--file", str(bad_file), "-o", "out"], tmp_path)
    assert result.returncode != 0 and "dòng 2" in result.stderr and "Traceback" not in result.stderr

    result = run(["say", b"Th\xf4ng b\xe1o", "-o", "x.mp3"], tmp_path)  # Latin-1 bytes in argv
    assert result.returncode != 0 and "Traceback" not in result.stderr and "Lỗi [" in result.stderr
