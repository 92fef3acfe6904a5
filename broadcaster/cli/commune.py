"""``broadcaster commune`` and ``broadcaster zone``: register a commune and its villages from the server's shell.

    broadcaster commune create xa-an-binh "Xã An Bình" --province "Hà Giang"
    broadcaster zone create xa-an-binh "Thôn Đông"
    broadcaster speaker add xa-an-binh "Cụm loa nhà văn hóa" --zone "Thôn Đông" --agent-url http://10.0.0.21:8700

Like ``broadcaster user``, these act directly on the database as the machine's administrator (no
account needed) and are recorded in the audit log with no actor.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``commune`` and ``zone`` subcommands."""
    commune = subparsers.add_parser("commune", help="xã: tạo, liệt kê",
                                    description="Đăng ký xã trực tiếp trên cơ sở dữ liệu (không qua API).")
    commune.add_argument("--config", type=Path, help="tệp cấu hình YAML của máy chủ")
    actions = commune.add_subparsers(dest="action", metavar="VIỆC", required=True)
    create = actions.add_parser("create", help="tạo xã")
    create.add_argument("code", help="mã xã: chữ thường không dấu, số, gạch ngang (ví dụ xa-an-binh)")
    create.add_argument("name", help="tên xã (ví dụ «Xã An Bình»)")
    create.add_argument("--province", default="", help="tên tỉnh")
    create.add_argument("--timetable", default="default", help="lịch phát trong thư mục schedules (mặc định: default)")
    create.add_argument("--no-four-eyes", action="store_true",
                        help="cho lãnh đạo tự duyệt bản tin mình soạn (mặc định: cần người duyệt khác)")
    create.set_defaults(handler=create_commune)
    listing = actions.add_parser("list", help="liệt kê các xã")
    listing.set_defaults(handler=list_communes)

    zone = subparsers.add_parser("zone", help="thôn/bản: tạo", description="Thêm thôn/bản vào một xã.")
    zone.add_argument("--config", type=Path, help="tệp cấu hình YAML của máy chủ")
    zone_actions = zone.add_subparsers(dest="action", metavar="VIỆC", required=True)
    zone_create = zone_actions.add_parser("create", help="tạo thôn/bản")
    zone_create.add_argument("commune", help="mã xã")
    zone_create.add_argument("name", help="tên thôn/bản")
    zone_create.set_defaults(handler=create_zone)


def database(args: argparse.Namespace) -> Any:
    """The settings and the migrated database of ``--config``."""
    from broadcaster.config import load_settings
    from broadcaster.db import Database

    settings = load_settings(args.config)
    db = Database(settings.effective_database_url)
    db.upgrade()
    return settings, db


def create_commune(args: argparse.Namespace) -> int:
    """Register a commune."""
    from broadcaster.services import registry

    settings, db = database(args)
    with db.session() as session:
        commune = registry.create_commune(session, None, code=args.code, name=args.name, province=args.province,
                                          timetable=args.timetable, schedules_dir=settings.schedules_dir,
                                          four_eyes=not args.no_four_eyes)
        print(f"Đã tạo xã «{commune.name}» (mã {commune.code}, số {commune.id}, lịch phát {commune.timetable}"
              f"{', duyệt hai người' if commune.four_eyes else ''}).")
    db.dispose()
    return 0


def list_communes(args: argparse.Namespace) -> int:
    """Print every commune."""
    from sqlalchemy import select

    from broadcaster.models import Commune

    _settings, db = database(args)
    with db.session() as session:
        for commune in session.scalars(select(Commune).order_by(Commune.id)):
            print(f"{commune.id}\t{commune.code}\t{commune.name}\t{commune.timetable}")
    db.dispose()
    return 0


def create_zone(args: argparse.Namespace) -> int:
    """Add a zone (village) to a commune."""
    from broadcaster.services import registry

    _settings, db = database(args)
    with db.session() as session:
        commune = registry.find_commune_by_code(session, args.commune)
        zone = registry.create_zone(session, None, commune.id, args.name)
        print(f"Đã tạo thôn/bản «{zone.name}» (số {zone.id}) của {commune.name}.")
    db.dispose()
    return 0
