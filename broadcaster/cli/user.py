"""``broadcaster user``: create the first admin and other accounts, issue tokens, reset passwords."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from broadcaster.errors import InvalidInput

ROLES = ("officer", "approver", "admin")


class PasswordMismatch(InvalidInput):
    """The two passwords typed differ."""

    code = "password_mismatch"


class PasswordUnavailable(InvalidInput):
    """No terminal to type a password on, and none given on standard input."""

    code = "password_unavailable"


def register(subparsers: Any) -> None:
    """Add the ``user`` subcommand and its actions."""
    parser = subparsers.add_parser("user", help="quản lý tài khoản: tạo, cấp mã truy cập, đổi mật khẩu",
                                   description="Quản lý tài khoản trực tiếp trên cơ sở dữ liệu (không qua API).")
    parser.add_argument("--config", type=Path, help="tệp cấu hình YAML")
    actions = parser.add_subparsers(dest="action", metavar="VIỆC", required=True)

    create = actions.add_parser("create", help="tạo tài khoản (tài khoản quản trị đầu tiên: --role admin)")
    create.add_argument("username", help="tên đăng nhập")
    create.add_argument("--role", choices=ROLES, required=True, help="vai trò")
    create.add_argument("--commune", help="mã xã; bỏ trống với quản trị viên cấp tỉnh")
    create.add_argument("--full-name", default="", help="họ tên")
    create.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu từ dòng đầu của stdin")
    create.set_defaults(handler=create_user)

    token = actions.add_parser("token", help="cấp một mã truy cập API cho tài khoản (in ra một lần)")
    token.add_argument("username")
    token.add_argument("--name", default="cli", help="ghi chú cho mã (ví dụ tên máy dùng nó)")
    token.add_argument("--days", type=int, help="số ngày hiệu lực (mặc định theo cấu hình)")
    token.set_defaults(handler=issue_token)

    password = actions.add_parser("set-password", help="đặt lại mật khẩu (thu hồi mọi mã truy cập cũ)")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true", help="đọc mật khẩu từ dòng đầu của stdin")
    password.set_defaults(handler=set_password)

    listing = actions.add_parser("list", help="liệt kê tài khoản")
    listing.set_defaults(handler=list_users)


def _database(args: argparse.Namespace) -> Any:
    from broadcaster.config import load_settings
    from broadcaster.db import Database

    settings = load_settings(args.config)
    db = Database(settings.effective_database_url)
    db.upgrade()
    return settings, db


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline() if sys.stdin is not None else ""
        if not line.strip():
            raise PasswordUnavailable("Không đọc được mật khẩu từ đầu vào chuẩn (stdin trống).")
        return line.rstrip("\r\n")
    if sys.stdin is None or not sys.stdin.isatty():
        # getpass would fall back to echoing the password, or fail with EOFError.
        raise PasswordUnavailable("Không có cửa sổ dòng lệnh để gõ mật khẩu. Hãy chạy trong một terminal, hoặc "
                                  "đưa mật khẩu qua đầu vào chuẩn với --password-stdin.")
    first = getpass.getpass("Mật khẩu: ")
    if getpass.getpass("Nhập lại mật khẩu: ") != first:
        raise PasswordMismatch("Hai lần nhập mật khẩu không khớp.")
    return first


def create_user(args: argparse.Namespace) -> int:
    """Create an account; the first admin is made this way."""
    from broadcaster.models import Role
    from broadcaster.services import registry, users

    password = _read_password(args.password_stdin)  # before touching the database
    _settings, db = _database(args)
    with db.session() as session:
        commune_id = registry.find_commune_by_code(session, args.commune).id if args.commune else None
        user = users.create_user(session, None, username=args.username, password=password, role=Role(args.role),
                                 commune_id=commune_id, full_name=args.full_name)
        print(f"Đã tạo tài khoản «{user.username}» (số {user.id}, vai trò {user.role}).")
    db.dispose()
    return 0


def issue_token(args: argparse.Namespace) -> int:
    """Print a new bearer token for an account."""
    from broadcaster.services import auth, users

    settings, db = _database(args)
    with db.session() as session:
        user = users.find_by_username(session, args.username)
        issued = auth.issue_token(session, user, ttl=timedelta(days=args.days or settings.token_ttl_days),
                                  name=args.name)
        print(issued.token)
    db.dispose()
    return 0


def set_password(args: argparse.Namespace) -> int:
    """Reset an account's password and revoke its tokens."""
    from broadcaster.services import users

    password = _read_password(args.password_stdin)
    _settings, db = _database(args)
    with db.session() as session:
        user = users.find_by_username(session, args.username)
        users.reset_password(session, user, password)
        print(f"Đã đổi mật khẩu của «{user.username}»; các mã truy cập cũ đã bị thu hồi.")
    db.dispose()
    return 0


def list_users(args: argparse.Namespace) -> int:
    """Print every account."""
    from broadcaster.services import users

    _settings, db = _database(args)
    with db.session() as session:
        for user in users.all_users(session):
            state = "" if user.is_active else " (đã khóa)"
            print(f"{user.id}\t{user.username}\t{user.role}\t{user.commune_id or 'tỉnh'}{state}")
    db.dispose()
    return 0
