"""``broadcaster say``: speak bulletins to files, through the same pipeline and cache the server uses."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from broadcaster.errors import BroadcasterError, InvalidInput, NotFound

FORMATS = ("mp3", "ogg", "wav")


class OutputInvalid(InvalidInput):
    """The output path cannot hold what was asked for (missing folder, suffix against --format)."""

    code = "say_output_invalid"


class InputMissing(NotFound):
    """The file given to read (--file, --upload) does not exist."""

    code = "say_input_missing"

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
    source.add_argument("--upload", type=Path, help="tệp ghi âm tải lên (mp3, m4a, wav, ogg, webm...) để chuẩn hóa như bản tin")
    parser.add_argument("-o", "--output", type=Path,
                        help="tệp ra, định dạng theo đuôi .mp3/.ogg/.wav (với --file: thư mục ra); thư mục phải có sẵn")
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
    parser.add_argument("--format", choices=FORMATS, help="định dạng tệp ra (mặc định: theo đuôi của -o, hoặc mp3)")
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
    for given in (args.file, args.upload):
        if given is not None and not given.is_file():
            raise InputMissing(f"Không tìm thấy tệp «{given}».", detail=str(given))
    if args.file is None:
        args.format, output = _output(args.output, args.format)
    speech = SpeechService(load_settings(**overrides))

    if args.file is not None:
        args.format = args.format or "mp3"
        return _say_file(speech, args)
    if args.upload is not None:
        rendered = speech.render_upload(args.upload, repeat=args.repeat, chime=args.chime, fmt=args.format)
    elif args.text is not None:
        rendered = speech.render_text(args.text, repeat=args.repeat, chime=args.chime, fmt=args.format)
    else:
        raise InvalidInput("Hãy cho nội dung bản tin, hoặc --file, hoặc --upload.", code="say_no_input")
    _write(rendered.path, output)
    print(_report(output, rendered))
    return 0


def _output(output: Path | None, fmt: str | None) -> tuple[str, Path]:
    """The format and the file to write: the suffix decides unless --format does; they must agree."""
    if output is None:
        chosen = fmt or "mp3"
        return chosen, Path(f"ban-tin.{chosen}")
    suffix = output.suffix.lower().lstrip(".")
    if suffix and suffix not in FORMATS:
        raise OutputInvalid(f"Không ghi được định dạng «.{suffix}»: tệp ra phải có đuôi .mp3, .ogg hoặc .wav.",
                            detail=str(output))
    if suffix and fmt and suffix != fmt:
        raise OutputInvalid(f"Tệp ra «{output.name}» có đuôi .{suffix} nhưng --format là {fmt}: hãy chọn một.",
                            detail=f"{output} vs {fmt}")
    if not output.parent.is_dir():
        raise OutputInvalid(f"Thư mục «{output.parent}» không tồn tại; hãy tạo nó trước hoặc chọn thư mục khác.",
                            detail=str(output.parent))
    chosen = fmt or suffix or "mp3"
    return chosen, output if suffix else output.with_name(f"{output.name}.{chosen}")


def _rate(value: float) -> float:
    from broadcaster.tts.base import SynthesisOptions

    return SynthesisOptions(rate=value).rate  # refuses a rate out of range with the engines' own message


def _say_file(speech: SpeechService, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    lines = _read_lines(args.file)
    out_dir = args.output or Path(".")
    if not out_dir.is_dir():
        if not out_dir.parent.is_dir():
            raise OutputInvalid(f"Thư mục «{out_dir.parent}» không tồn tại; hãy tạo nó trước.", detail=str(out_dir))
        out_dir.mkdir()
        print(f"Đã tạo thư mục ra «{out_dir}».", file=sys.stderr)
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
    try:
        shutil.copyfile(source, target)
    except OSError as error:
        raise OutputInvalid(f"Không ghi được tệp «{target}»: {error.strerror}.", detail=str(error)) from None


def _report(target: Path, rendered: RenderedAudio) -> str:
    cache = "có sẵn (cache hit)" if rendered.cache_hit else "mới tạo (cache miss)"
    report = (
        f"{target}: {cache}, {rendered.duration_s:.1f} s, {rendered.integrated_lufs:.1f} LUFS, "
        f"đỉnh {rendered.true_peak_dbtp:.1f} dBTP, bộ đọc {rendered.engine}, giọng {rendered.voice}"
    )
    for engine, reason in rendered.failures:
        report += f"\n  (bộ đọc {engine} không dùng được: {reason})"
    return report
