"""``broadcaster broker files``: Mosquitto's password and ACL files from the registry.

    broadcaster broker files --passwd /etc/mosquitto/broadcaster.passwd --acl /etc/mosquitto/broadcaster.acl
    systemctl reload mosquitto      # Mosquitto re-reads both on SIGHUP

Run it again after ``broadcaster speaker config`` issued a cluster's credential (docs/delivery.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``broker`` subcommand."""
    parser = subparsers.add_parser("broker", help="máy chủ MQTT (Mosquitto): tệp mật khẩu và phân quyền",
                                   description="Ghi tệp mật khẩu và tệp phân quyền (ACL) cho Mosquitto từ danh mục cụm loa.")
    parser.add_argument("--config", type=Path, help="tệp cấu hình YAML của máy chủ")
    actions = parser.add_subparsers(dest="action", metavar="VIỆC", required=True)
    files = actions.add_parser("files", help="ghi tệp mật khẩu và tệp phân quyền cho Mosquitto")
    files.add_argument("--passwd", type=Path, required=True, help="tệp mật khẩu (password_file của Mosquitto)")
    files.add_argument("--acl", type=Path, required=True, help="tệp phân quyền (acl_file của Mosquitto)")
    files.set_defaults(handler=write_files)


def write_files(args: argparse.Namespace) -> int:
    """Write both files from the database and the settings."""
    from broadcaster.config import load_settings
    from broadcaster.db import Database
    from broadcaster.services.broker_files import write_broker_files

    settings = load_settings(args.config)
    db = Database(settings.effective_database_url)
    db.upgrade()
    with db.session() as session:
        count = write_broker_files(session, settings, args.passwd, args.acl)
    db.dispose()
    print(f"Đã ghi {args.passwd} và {args.acl}: máy chủ và {count} cụm loa. "
          "Báo Mosquitto đọc lại (SIGHUP, hoặc systemctl reload mosquitto).")
    return 0
