"""The ``broadcaster`` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Modules under broadcaster.cli that provide ``register(subparsers)``; each adds one subcommand
# whose handler returns the exit code.
COMMAND_MODULES: list[str] = [
    "say", "voices", "normalize", "demo", "commune", "serve", "user", "agent", "speaker", "broker", "backup",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand (Vietnamese throughout, see ``cli.parser``)."""
    from broadcaster import __version__
    from broadcaster.cli.parser import VietnameseArgumentParser

    parser = VietnameseArgumentParser(
        prog="broadcaster",
        description="Đọc bản tin tiếng Việt và phát trên cụm loa thông minh của xã.",
    )
    parser.add_argument("--version", action="version", version=f"broadcaster {__version__}",
                        help="in phiên bản rồi thoát")
    parser.add_argument("--debug", action="store_true", help="khi có lỗi ngoài dự kiến, in cả chi tiết kỹ thuật")
    subparsers = parser.add_subparsers(dest="command", metavar="LỆNH", title="các lệnh")
    for name in COMMAND_MODULES:
        importlib.import_module(f"broadcaster.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn every error into one ``Lỗi [code]: …`` line and a non-zero exit."""
    from broadcaster.errors import BroadcasterError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    # One-shot commands print their own Vietnamese lines: the libraries' English log lines (gTTS
    # retries, engine fallbacks) are for --debug. ``serve`` and ``agent`` set up logging of their own.
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except BroadcasterError as error:
        print(f"Lỗi [{error.code}]: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: one line for the user, the traceback only when asked for
        if args.debug:
            raise
        print(f"Lỗi [internal_error]: lỗi ngoài dự kiến ({type(error).__name__}). Chạy lại với "
              "«broadcaster --debug …» để xem chi tiết, và báo cho người quản trị.", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
