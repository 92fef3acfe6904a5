"""The project-wide Vietnamese spelling rule (docs/ui-language.md): old-style tone placement everywhere."""

from __future__ import annotations

from pathlib import Path

from broadcaster.text.cleaning import old_style_tones

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("broadcaster", "docs", "tests", "bench", "scripts", "schedules", "README.md")
SUFFIXES = {".py", ".md", ".html", ".js", ".css", ".tsv", ".yaml", ".yml", ".txt", ".json", ""}
# Files that hold the other placement on purpose: inputs proving the normalizer reads both alike.
NORMALIZER_INPUTS = {
    "broadcaster/text/cleaning.py",
    "docs/text-normalization.md",
    "docs/ui-language.md",
    "tests/text/cases.tsv",
    "tests/text/test_text_cases.py",
    "tests/text/test_text_lexicon.py",
    "tests/text/test_text_rules.py",
    "tests/text/text_cases.py",
    "tests/test_vietnamese_style.py",
}


def _text_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        path = ROOT / name
        candidates = [path] if path.is_file() else path.rglob("*")
        files += [p for p in candidates if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts]
    return files


def test_every_file_uses_the_old_style_tone_placement() -> None:
    offending: list[str] = []
    for path in _text_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative in NORMALIZER_INPUTS:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if old_style_tones(line) != line:
                offending.append(f"{relative}:{number}: {line.strip()[:80]}  ->  {old_style_tones(line).strip()[:80]}")
    assert not offending, "Use the old-style tone placement (docs/ui-language.md):\n" + "\n".join(offending)


def test_the_rule_catches_the_new_style() -> None:
    assert old_style_tones("mã hoá, đã huỷ, tuỳ chọn") == "mã hóa, đã hủy, tùy chọn"
    assert old_style_tones("quý, hoàn, khoản") == "quý, hoàn, khoản"
