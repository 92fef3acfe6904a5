"""The ``broadcaster`` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules under broadcaster.cli that provide ``register(subparsers)``; each adds one subcommand
# whose handler returns the exit code.
COMMAND_MODULES: list[str] = ["say", "voices", "normalize", "demo", "serve", "user", "agent", "speaker", "backup"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="broadcaster",
        description="Đọc bản tin tiếng Việt và phát trên cụm loa thông minh của xã.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="LỆNH")
    for name in COMMAND_MODULES:
        importlib.import_module(f"broadcaster.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, dispatch, and turn our errors into a message and exit code 2."""
    from broadcaster.errors import BroadcasterError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except BroadcasterError as error:
        print(f"Lỗi [{error.code}]: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
