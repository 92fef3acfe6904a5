"""``broadcaster say``: speak bulletins to files, through the same pipeline and cache the server uses."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.errors import BroadcasterError, InvalidInput

if TYPE_CHECKING:  # imported lazily at run time: `broadcaster --help` must not load the engines
    from broadcaster.speech import RenderedAudio, SpeechService


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``say`` subcommand."""
    parser = subparsers.add_parser(
        "say",
        help="đọc bản tin thành tệp âm thanh",
        description="Đọc bản tin tiếng Việt thành tệp âm thanh đã chuẩn hóa độ lớn (−16 LUFS).",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("text", nargs="?", help="nội dung bản tin")
    source.add_argument("--file", type=Path, help="tệp văn bản, mỗi dòng một bản tin")
    source.add_argument("--upload", type=Path, help="tệp ghi âm (định dạng bất kỳ ffmpeg đọc được)")
    parser.add_argument("-o", "--output", type=Path, help="tệp ra (với --file: thư mục ra)")
    parser.add_argument(
        "--engine", action="append",
        help="bộ đọc (lặp lại để có chuỗi dự phòng): piper, espeak, gtts; espeak luôn đọc thay khi các bộ đọc"
        " kia không đọc được, trừ khi có --no-fallback",
    )
    parser.add_argument("--no-fallback", action="store_true", help="chỉ dùng đúng các bộ đọc đã chọn")
    parser.add_argument(
        "--voice",
        help="giọng đọc, dạng bộ-đọc:giọng (ví dụ piper:vi_VN-vais1000-medium, espeak:vi-vn-x-south);"
        " xem «broadcaster voices»",
    )
    parser.add_argument("--rate", type=float, help="tốc độ đọc, 0,5–2 lần tốc độ thường (nhỏ hơn 1 là chậm hơn)")
    parser.add_argument("--voices-dir", type=Path, help="thư mục giọng Piper (mặc định: data/voices)")
    parser.add_argument("--repeat", type=int, default=1, help="số lần đọc lại (1–10)")
    parser.add_argument("--chime", action="store_true", help="thêm nhạc hiệu đầu và cuối")
    parser.add_argument("--format", default="mp3", choices=["mp3", "ogg", "wav"], help="định dạng tệp ra")
    parser.add_argument("--lexicon", action="append", type=Path, default=[], help="từ điển riêng của xã (TSV)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Render the text, the upload or each line of the file, and report cache, duration and loudness."""
    from broadcaster.config import load_settings
    from broadcaster.speech import SpeechService

    overrides: dict[str, object] = {}
    if args.engine:
        chosen = [name for value in args.engine for name in value.split(",") if name]
        # espeak is always there, offline: the last resort unless the operator wants to see the failure.
        overrides["engines"] = chosen if args.no_fallback or "espeak" in chosen else [*chosen, "espeak"]
    if args.voice:
        overrides["voice"] = args.voice
    if args.lexicon:
        overrides["lexicon_paths"] = args.lexicon
    if args.rate is not None:
        overrides["speech_rate"] = _rate(args.rate)
    if args.voices_dir is not None:
        overrides["voices_dir"] = args.voices_dir
    speech = SpeechService(load_settings(**overrides))

    if args.file is not None:
        return _say_file(speech, args)
    output = args.output or Path(f"ban-tin.{args.format}")
    if args.upload is not None:
        rendered = speech.render_upload(args.upload, repeat=args.repeat, chime=args.chime, fmt=args.format)
    elif args.text is not None:
        rendered = speech.render_text(args.text, repeat=args.repeat, chime=args.chime, fmt=args.format)
    else:
        raise InvalidInput("Hãy cho nội dung bản tin, hoặc --file, hoặc --upload.", code="say_no_input")
    _write(rendered.path, output)
    print(_report(output, rendered))
    return 0


def _rate(value: float) -> float:
    from broadcaster.tts.base import SynthesisOptions

    return SynthesisOptions(rate=value).rate  # refuses a rate out of range with the engines' own message


def _say_file(speech: SpeechService, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    lines = _read_lines(args.file)
    out_dir = args.output or Path(".")
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for number, line in enumerate(tqdm(lines, desc="Đang đọc", unit="bản tin", file=sys.stderr), start=1):
        if not line.strip():
            continue
        target = out_dir / f"ban-tin-{number:04d}.{args.format}"
        try:
            rendered = speech.render_text(line, repeat=args.repeat, chime=args.chime, fmt=args.format)
        except BroadcasterError as error:
            failed += 1
            tqdm.write(f"Dòng {number}: lỗi [{error.code}]: {error.message}", file=sys.stderr)
            continue
        _write(rendered.path, target)
        tqdm.write(_report(target, rendered))
    return 1 if failed else 0


def _read_lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"Không đọc được tệp {path}: {error.strerror}.", code="say_file_unreadable") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InvalidInput(
            f"Tệp {path.name} không phải văn bản UTF-8 (dòng {line}, byte {error.start}).",
            code="text_invalid_encoding",
        ) from None
    return text.splitlines()


def _write(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _report(target: Path, rendered: RenderedAudio) -> str:
    cache = "có sẵn (cache hit)" if rendered.cache_hit else "mới tạo (cache miss)"
    report = (
        f"{target}: {cache}, {rendered.duration_s:.1f} s, {rendered.integrated_lufs:.1f} LUFS, "
        f"đỉnh {rendered.true_peak_dbtp:.1f} dBTP, bộ đọc {rendered.engine}, giọng {rendered.voice}"
    )
    for engine, reason in rendered.failures:
        report += f"\n  (bộ đọc {engine} không dùng được: {reason})"
    return report
