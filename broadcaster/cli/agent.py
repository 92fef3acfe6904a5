"""``broadcaster agent``: run the speaker-cluster agent (config file and/or flags)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``agent`` subcommand."""
    parser = subparsers.add_parser(
        "agent",
        help="chạy phần mềm cụm loa: nhận lệnh phát có chữ ký, tải âm thanh, phát đúng giờ, báo cáo",
        description="Chạy phần mềm trên hộp điều khiển cụm loa. Cờ dòng lệnh ghi đè tệp cấu hình.",
    )
    parser.add_argument("--config", type=Path, help="tệp cấu hình YAML")
    parser.add_argument("--cluster-id", help="mã cụm loa")
    parser.add_argument("--server-url", help="địa chỉ máy chủ (báo cáo, nhịp tim)")
    parser.add_argument("--public-key", action="append", dest="server_public_keys",
                        help="khóa công khai Ed25519 của máy chủ (base64 hoặc PEM); lặp lại được")
    parser.add_argument("--secret-file", type=Path, help="tệp chứa khóa bí mật HMAC của cụm loa")
    parser.add_argument("--transport", choices=("pull", "mqtt", "http"),
                        help="cách nhận lệnh: pull (mặc định, tự gọi về máy chủ), mqtt, http (máy chủ gửi tới, chỉ mạng LAN)")
    parser.add_argument("--host", help="chỉ với http: địa chỉ lắng nghe (mặc định 127.0.0.1)")
    parser.add_argument("--port", type=int, help="chỉ với http: cổng lắng nghe (mặc định 8700; 0 = tự chọn)")
    parser.add_argument("--state-dir", type=Path, help="thư mục trạng thái (SQLite, âm thanh)")
    parser.add_argument("--player", help="bộ phát: aplay, ffmpeg hoặc null")
    parser.add_argument("--volume", type=int, help="âm lượng 0–100")
    parser.add_argument("--heartbeat-interval", type=float, dest="heartbeat_interval_s",
                        help="giây giữa hai nhịp tim (mặc định 60)")
    parser.add_argument("--log-level", default="INFO", help="mức ghi nhật ký (DEBUG, INFO, WARNING)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the configuration and run the agent until SIGTERM."""
    from broadcaster.agent.config import load_agent_config
    from broadcaster.agent.runtime import run_agent

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)  # a service logs; the one-shot commands stay quiet (cli.main)
    # httpx logs every request at INFO: a heartbeat a minute would drown what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    overrides = {name: getattr(args, name) for name in (
        "cluster_id", "server_url", "server_public_keys", "secret_file", "transport", "host", "port", "state_dir", "player",
        "volume", "heartbeat_interval_s",
    )}
    config = load_agent_config(args.config, **overrides)
    asyncio.run(run_agent(config))
    return 0
