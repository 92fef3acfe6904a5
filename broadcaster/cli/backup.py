"""``broadcaster backup`` and ``broadcaster restore``: the whole server (database, keys, uploads, timetables)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``backup`` and ``restore`` subcommands."""
    backup = subparsers.add_parser(
        "backup", help="sao lưu máy chủ: cơ sở dữ liệu, khóa, bản ghi âm tải lên, lịch phát",
        description="Sao lưu khi máy chủ đang chạy (SQLite: sao lưu trực tuyến; PostgreSQL: pg_dump).")
    backup.add_argument("archive", type=Path, help="tệp sao lưu sẽ ghi (.tar.gz)")
    backup.add_argument("--config", type=Path, help="tệp cấu hình YAML")
    backup.set_defaults(handler=run_backup)

    restore = subparsers.add_parser(
        "restore", help="khôi phục một bản sao lưu vào thư mục dữ liệu và cơ sở dữ liệu trống",
        description="Khôi phục vào chỗ trống (không ghi đè máy chủ đang có); số thứ tự lệnh phát được nâng lên.")
    restore.add_argument("archive", type=Path, help="tệp sao lưu (.tar.gz)")
    restore.add_argument("--config", type=Path, help="tệp cấu hình YAML")
    restore.set_defaults(handler=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    """Write the backup archive."""
    from broadcaster.backup import backup
    from broadcaster.config import load_settings

    summary = backup(load_settings(args.config), args.archive)
    print(f"Đã sao lưu ({summary.backend}, {summary.files} tệp) vào {summary.archive}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    """Restore a backup archive into an empty place."""
    from broadcaster.backup import restore
    from broadcaster.config import load_settings

    summary = restore(load_settings(args.config), args.archive)
    print(f"Đã khôi phục bản sao lưu lúc {summary.created_at} ({summary.backend}, {summary.files} tệp); "
          f"số thứ tự lệnh phát của {summary.clusters_advanced} cụm loa đã được nâng lên.")
    return 0
