"""``broadcaster normalize`` run as a real subprocess: output, streaming and error handling."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

TIMEOUT = 60


def _run(exe: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(exe), "normalize", *args], input=stdin, capture_output=True, timeout=TIMEOUT, check=False
    )


def _assert_clean_failure(result: subprocess.CompletedProcess[bytes], code: str, *fragments: str) -> None:
    stderr = result.stderr.decode("utf-8")
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert f"Lỗi [{code}]:" in stderr
    for fragment in fragments:
        assert fragment in stderr, stderr
    assert result.stdout == b""


def test_argument_is_printed_spoken(broadcaster_exe: Path) -> None:
    result = _run(broadcaster_exe, "UBND xã họp lúc 7h30 ngày 15/12/2026.")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode("utf-8") == (
        "ủy ban nhân dân xã họp lúc bảy giờ ba mươi phút ngày mười lăm tháng mười hai "
        "năm hai nghìn không trăm hai mươi sáu.\n"
    )


def test_stdin_gives_one_line_per_line(broadcaster_exe: Path) -> None:
    stdin = "Ngày 15/12\n\nCA xã\r\n   \nGọi 113".encode()
    result = _run(broadcaster_exe, stdin=stdin)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode("utf-8").split("\n") == [
        "Ngày mười lăm tháng mười hai", "", "công an xã", "", "Gọi một một ba", ""
    ]


def test_stdin_streams_line_by_line(broadcaster_exe: Path) -> None:
    # The first answer must arrive while standard input is still open.
    with subprocess.Popen(
        [str(broadcaster_exe), "normalize"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdin and process.stdout
        try:
            process.stdin.write("thứ 4\n".encode())
            process.stdin.flush()
            assert process.stdout.readline().decode("utf-8") == "thứ tư\n"
            process.stdin.write(b"5 km\n")
            process.stdin.flush()
            assert process.stdout.readline().decode("utf-8") == "năm ki-lô-mét\n"
        finally:
            process.stdin.close()
        assert process.wait(timeout=TIMEOUT) == 0


def test_repeated_lexicon_options(broadcaster_exe: Path, tmp_path: Path) -> None:
    first = tmp_path / "huyen.tsv"
    first.write_text("Tx. Sơn Tây\tthị xã Sơn Tây\nKDC\tkhu dân cư số một\n", encoding="utf-8")
    second = tmp_path / "xa.tsv"
    second.write_text("KDC\tkhu dân cư kiểu mẫu\n", encoding="utf-8")
    result = _run(broadcaster_exe, "--lexicon", str(first), "--lexicon", str(second), "Tx. Sơn Tây có KDC")
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode("utf-8") == "thị xã Sơn Tây có khu dân cư kiểu mẫu\n"


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "text_empty"), ("   ", "text_empty"), ("🎉🎉 ✨ !!!", "text_nothing_to_speak"), ("a" * 25_000, "text_too_long")],
)
def test_bad_argument(broadcaster_exe: Path, text: str, code: str) -> None:
    _assert_clean_failure(_run(broadcaster_exe, text), code)


def test_oversized_stdin_line(broadcaster_exe: Path) -> None:
    # 200 kB cannot be an argument (the kernel caps one at 128 kB), so it comes on stdin.
    result = _run(broadcaster_exe, stdin=b"Thong bao " * 20_000 + b"\n")
    _assert_clean_failure(result, "text_too_long", "Dòng 1")


def test_emoji_only_stdin_line_names_the_line(broadcaster_exe: Path) -> None:
    result = _run(broadcaster_exe, stdin="Xin chào\n🎉🎉\n".encode())
    assert result.returncode == 2
    assert "Dòng 2" in result.stderr.decode("utf-8") and "Traceback" not in result.stderr.decode("utf-8")
    assert result.stdout.decode("utf-8") == "Xin chào\n"  # lines before the bad one were already written


def test_invalid_utf8_names_line_and_byte(broadcaster_exe: Path) -> None:
    stdin = "Dòng một\n".encode() + b"ab\xff\xfecd\n"
    result = subprocess.run(
        [str(broadcaster_exe), "normalize"], input=stdin, capture_output=True, timeout=TIMEOUT, check=False
    )
    stderr = result.stderr.decode("utf-8")
    assert result.returncode == 2 and "Traceback" not in stderr
    assert "Lỗi [text_invalid_encoding]:" in stderr
    assert "Dòng 2" in stderr and "byte thứ 3 của dòng" in stderr and f"byte {len('Dòng một'.encode()) + 4}" in stderr


def test_missing_lexicon_file(broadcaster_exe: Path, tmp_path: Path) -> None:
    missing = tmp_path / "khong-co.tsv"
    _assert_clean_failure(_run(broadcaster_exe, "--lexicon", str(missing), "xin chào"), "lexicon_not_found", str(missing))


def test_malformed_lexicon_line(broadcaster_exe: Path, tmp_path: Path) -> None:
    bad = tmp_path / "xa.tsv"
    bad.write_text("# xã Phú Thịnh\nHTX\thợp tác xã\nthiếu cột\n", encoding="utf-8")
    _assert_clean_failure(_run(broadcaster_exe, "--lexicon", str(bad), "xin chào"), "lexicon_malformed", str(bad), "dòng 3")


def test_explain_names_the_rule_of_each_span(broadcaster_exe: Path) -> None:
    result = _run(broadcaster_exe, "--explain", "Nộp HS tại BPMC trước 15/12; tuyến ĐT 391; mã SGTGT.")
    assert result.returncode == 0, result.stderr.decode()
    spoken, *changes = result.stdout.decode("utf-8").splitlines()
    assert spoken.startswith("Nộp hồ sơ tại bộ phận một cửa")
    assert any(line.startswith("  [senses.read_by_neighbours] “HS” → “hồ sơ”") and "nộp" in line for line in changes)
    assert any("[roads.read_road_codes] “ĐT 391” → “đường tỉnh ba trăm chín mươi mốt”" in line for line in changes)
    assert any("[lexicon.expand] “BPMC”" in line and "Nghị định 61/2018" in line for line in changes)
    assert any("“SGTGT” → “ét giê tê giê tê” (đoán)" in line for line in changes)


def test_explain_on_stdin_keeps_each_spoken_line_first(broadcaster_exe: Path) -> None:
    result = _run(broadcaster_exe, "--explain", stdin="Quý KH\n\nxã họp\n".encode())
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode("utf-8").splitlines()
    assert lines[0] == "Quý khách hàng"
    assert lines[1].startswith("  [senses.read_by_neighbours]")
    assert lines[2:] == ["", "xã họp"]  # an unchanged line has no explanation lines
