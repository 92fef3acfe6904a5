"""``broadcaster serve``: run the API (and, unless told not to, the broadcast scheduler)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="chạy máy chủ: API bản tin (tài liệu ở /docs) và bộ lập lịch phát",
        description="Chạy máy chủ bản tin. Cấu hình: tệp YAML (--config) và biến môi trường BROADCASTER_*.",
    )
    parser.add_argument("--config", type=Path, help="tệp cấu hình YAML")
    parser.add_argument("--host", default="127.0.0.1", help="địa chỉ lắng nghe (mặc định 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="cổng lắng nghe (mặc định 8000)")
    parser.add_argument("--no-scheduler", action="store_true",
                        help="không chạy bộ lập lịch (khi một máy khác đã chạy nó)")
    parser.add_argument("--log-level", default="info", help="mức ghi nhật ký (debug, info, warning)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the settings and the app, and serve it with uvicorn until SIGTERM/SIGINT."""
    import uvicorn

    from broadcaster.api.runtime import Runtime
    from broadcaster.app import create_app
    from broadcaster.config import load_settings

    overrides: dict[str, Any] = {"run_scheduler": False} if args.no_scheduler else {}
    settings = load_settings(args.config, **overrides)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)  # a service logs; the one-shot commands stay quiet (cli.main)
    # Start-up (migrations, timetables, speech, delivery) runs here rather than in the app's
    # lifespan: uvicorn would print a BroadcasterError from there as a traceback, while from here
    # the command prints its one-line message ("Lỗi [timetable_invalid]: …") and exits with 2.
    runtime = Runtime(settings)
    try:
        runtime.start_blocking()
        uvicorn.run(create_app(settings, runtime=runtime), host=args.host, port=args.port,
                    log_level=args.log_level.lower(),
                    # X-Forwarded-For is read by the app, from configured proxies only (api/client_address.py).
                    proxy_headers=False)
    finally:
        runtime.stop()  # the lifespan stopped it already if the server ran; stopping twice is harmless
    return 0
