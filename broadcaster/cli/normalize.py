"""``broadcaster normalize``: print the spoken form of Vietnamese bulletin text.

With a TEXT argument the whole text is checked and printed on one line. Without it, standard
input is read as a stream: one output line per input line (an empty line gives an empty line),
each written and flushed before the next line is read, so it can sit in a pipe. ``--explain``
adds, under each spoken line, one indented line per change: the rule, the written span, its
reading and why (a guess is marked "đoán").
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from broadcaster.errors import BroadcasterError

# broadcaster.text is imported when the command runs, not here: every ``broadcaster`` process
# (serve, agent) builds this parser, and the text package costs each of them a tenth of a second.
if TYPE_CHECKING:
    from broadcaster.text import Lexicon


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``normalize`` subcommand."""
    parser = subparsers.add_parser(
        "normalize",
        help="in cách đọc của văn bản (số, ngày giờ, viết tắt...) như phát thanh viên đọc",
        description=(
            "In dạng đọc của văn bản tiếng Việt. Không có TEXT thì đọc từng dòng từ đầu vào chuẩn "
            "và in đúng một dòng kết quả cho mỗi dòng."
        ),
    )
    parser.add_argument("text", nargs="?", metavar="TEXT", help="văn bản cần chuẩn hóa")
    parser.add_argument(
        "--lexicon",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="tệp từ điển TSV của xã (viết<Tab>đọc); có thể lặp lại, tệp sau ghi đè tệp trước",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="in thêm từng thay đổi: quy tắc nào đọc đoạn nào thành gì, vì sao (đoạn đoán được đánh dấu)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Normalize the argument, or standard input line by line."""
    from broadcaster.text import load_lexicon, normalize, validate_bulletin_text

    _use_utf8(sys.stdout)
    _use_utf8(sys.stderr)
    lexicon = load_lexicon(args.lexicon)
    read = partial(_explained, lexicon=lexicon) if args.explain else partial(normalize, lexicon=lexicon)
    if args.text is not None:
        print(read(validate_bulletin_text(args.text, lexicon)))
        return 0
    try:
        return stream(sys.stdin.buffer, sys.stdout, lexicon, read)
    except BrokenPipeError:
        # The reader went away (e.g. "| head -1"): stop quietly, as line filters do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _explained(text: str, lexicon: Lexicon) -> str:
    """The spoken line, then one indented line per change."""
    from broadcaster.text.explain import explain

    explanation = explain(text, lexicon)
    lines = [explanation.spoken]
    for change in explanation.changes:
        mark = " (đoán)" if change.guess else ""
        lines.append(f"  [{change.rule}] “{change.before}” → “{change.after}”{mark}: {change.reason}")
    return "\n".join(lines)


def stream(
    source: BinaryIO, sink: TextIO, lexicon: Lexicon, read: Callable[[str], str] | None = None
) -> int:
    """Normalize ``source`` line by line into ``sink``; stop at the first bad line with its number."""
    from broadcaster.text import MAX_BULLETIN_CHARS, TextTooLong, normalize, validate_bulletin_text
    from broadcaster.text.validation import vietnamese_count

    # A UTF-8 character is at most 4 bytes: a line longer than this cannot be within the limit,
    # and reading stops there instead of holding an endless line in memory.
    max_line_bytes = 4 * MAX_BULLETIN_CHARS + 2
    offset = 0
    number = 0
    while True:
        raw = source.readline(max_line_bytes)
        if not raw:
            return 0
        number += 1
        if len(raw) >= max_line_bytes and not raw.endswith(b"\n"):
            raise TextTooLong(
                f"Dòng {number} dài hơn giới hạn {vietnamese_count(MAX_BULLETIN_CHARS)} ký tự của một bản tin."
            )
        line = _decode(raw, number, offset).rstrip("\r\n")
        offset += len(raw)
        if line.strip():
            try:
                text = validate_bulletin_text(line, lexicon)
            except BroadcasterError as error:
                raise type(error)(f"Dòng {number}: {error.message}", code=error.code, detail=error.detail) from error
            line = read(text) if read else normalize(text, lexicon)
        else:
            line = ""
        sink.write(line + "\n")
        sink.flush()


def _decode(raw: bytes, number: int, offset: int) -> str:
    from broadcaster.text import InvalidEncoding

    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidEncoding(
            f"Dòng {number} không phải văn bản UTF-8: byte thứ {error.start + 1} của dòng "
            f"(byte {offset + error.start + 1} của đầu vào, giá trị 0x{raw[error.start]:02X}) không hợp lệ. "
            "Hãy lưu tệp bằng mã UTF-8.",
            detail=str(error),
        ) from error


def _use_utf8(stream_: TextIO) -> None:
    # Under a C/POSIX locale Python may pick ASCII; Vietnamese must still come out.
    if isinstance(stream_, io.TextIOWrapper) and (stream_.encoding or "").lower().replace("-", "") != "utf8":
        stream_.reconfigure(encoding="utf-8", errors="backslashreplace")
