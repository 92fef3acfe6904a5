"""User accounts: create, list, change, disable; scoped like everything else.

A commune admin manages the accounts of its own commune; only a province admin creates
province admins or accounts of any commune. ``actor=None`` means the trusted command line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broadcaster.errors import Conflict, InvalidInput, NotFound
from broadcaster.models import Commune, Role, User
from broadcaster.services import auth, scoping
from broadcaster.services.audit import AuditAction, record

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256


class UserNotFound(NotFound):
    """No such user, or one the actor may not see."""

    code = "user_not_found"


class UsernameInvalid(InvalidInput):
    """User names are 3–64 lower-case letters, digits, dot, dash or underscore."""

    code = "username_invalid"


class UsernameTaken(Conflict):
    """Another account already has this user name."""

    code = "username_taken"


class PasswordTooWeak(InvalidInput):
    """The password is too short (or absurdly long)."""

    code = "password_too_weak"


class CannotChangeSelf(Conflict):
    """An admin may not demote or disable their own account (that is how provinces lock themselves out)."""

    code = "cannot_change_self"


@dataclass(frozen=True)
class UserChanges:
    """Fields of a user that may change; None leaves a field as it is."""

    full_name: str | None = None
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = None


def check_password(password: str) -> None:
    """``PasswordTooWeak`` unless the password has an acceptable length."""
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise PasswordTooWeak(
            f"Mật khẩu phải có từ {PASSWORD_MIN_LENGTH} đến {PASSWORD_MAX_LENGTH} ký tự."
        )


def normalize_username(username: str) -> str:
    """The canonical (lower-case, trimmed) form of a user name; ``UsernameInvalid`` if it has none."""
    canonical = username.strip().lower()
    if not USERNAME_PATTERN.match(canonical):
        raise UsernameInvalid(
            "Tên đăng nhập gồm 3–64 ký tự: chữ thường không dấu, số, dấu chấm, gạch ngang hoặc gạch dưới."
        )
    return canonical


def create_user(
    session: Session,
    actor: User | None,
    *,
    username: str,
    password: str,
    role: Role,
    commune_id: int | None,
    full_name: str = "",
) -> User:
    """Create an account and commit it; a commune admin can only create accounts of its commune."""
    if actor is not None:
        if commune_id is None and not scoping.is_province_admin(actor):
            commune_id = actor.commune_id
        if commune_id is not None:
            scoping.visible_commune(session, actor, commune_id)
        scoping.require_role(actor, Role.ADMIN)
    canonical = normalize_username(username)
    check_password(password)
    if commune_id is not None:
        if session.get(Commune, commune_id) is None:
            raise scoping.commune_not_found(commune_id)
    elif role != Role.ADMIN and actor is not None and not scoping.is_province_admin(actor):
        raise scoping.CommuneRequired("Cán bộ và lãnh đạo phải thuộc một xã/phường (trường commune_id).")
    # (An officer or approver with no commune works for the province: services.province_bulletins.)
    if session.scalar(select(func.count()).select_from(User).where(User.username == canonical)):
        raise UsernameTaken(f"Tên đăng nhập «{canonical}» đã có người dùng.")
    user = User(username=canonical, full_name=full_name.strip(), role=role, commune_id=commune_id,
                password_hash=auth.hash_password(password))
    session.add(user)
    session.flush()
    record(session, actor=actor, action=AuditAction.CREATE, object_type="user", object_id=user.id,
           commune_id=commune_id, details={"username": canonical, "role": str(role)})
    session.commit()
    return user


def get_user(session: Session, actor: User, user_id: int) -> User:
    """A user the actor may see (an admin sees its commune; anyone sees themself)."""
    user = session.get(User, user_id)
    if user is None or not (user.id == actor.id or scoping.can_see_commune(actor, user.commune_id)):
        raise UserNotFound(f"Không tìm thấy người dùng số {user_id}.")
    if user.id != actor.id:
        scoping.require_role(actor, Role.ADMIN)
    return user


def list_users(session: Session, actor: User, commune_id: int | None = None) -> Sequence[User]:
    """The accounts the actor may manage, optionally of one commune."""
    query = select(User).where(scoping.commune_filter(actor, User.commune_id)).order_by(User.id)
    if commune_id is not None:
        scoping.visible_commune(session, actor, commune_id)
        query = query.where(User.commune_id == commune_id)
    scoping.require_role(actor, Role.ADMIN)
    return session.scalars(query).all()


def update_user(session: Session, actor: User, user_id: int, changes: UserChanges) -> User:
    """Change a user's name, role, password or active flag and commit; disabling revokes its tokens."""
    user = get_user(session, actor, user_id)
    scoping.require_role(actor, Role.ADMIN)
    if user.id == actor.id and (
        (changes.role is not None and changes.role != user.role) or changes.is_active is False
    ):
        raise CannotChangeSelf("Bạn không thể tự hạ vai trò hoặc tự khóa tài khoản của mình.")
    changed: dict[str, object] = {}
    if changes.full_name is not None:
        user.full_name = changes.full_name.strip()
        changed["full_name"] = user.full_name
    if changes.role is not None:
        if user.commune_id is None and changes.role != Role.ADMIN:
            raise scoping.CommuneRequired("Tài khoản cấp tỉnh chỉ có thể là quản trị viên.")
        user.role = changes.role
        changed["role"] = str(changes.role)
    if changes.password is not None:
        check_password(changes.password)
        user.password_hash = auth.hash_password(changes.password)
        auth.revoke_all(session, user)
        changed["password"] = "changed"
    if changes.is_active is not None:
        user.is_active = changes.is_active
        if not changes.is_active:
            auth.revoke_all(session, user)
        changed["is_active"] = changes.is_active
    record(session, actor=actor, action=AuditAction.EDIT, object_type="user", object_id=user.id,
           commune_id=user.commune_id, details=changed)
    session.commit()
    return user


def find_by_username(session: Session, username: str) -> User:
    """The user with this user name (for the command line); ``UserNotFound`` if none."""
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise UserNotFound(f"Không có người dùng «{username}».")
    return user


def reset_password(session: Session, user: User, password: str) -> None:
    """Set a new password (trusted caller: the command line), revoke the user's tokens, and commit."""
    check_password(password)
    user.password_hash = auth.hash_password(password)
    auth.revoke_all(session, user)
    record(session, actor=None, action=AuditAction.EDIT, object_type="user", object_id=user.id,
           commune_id=user.commune_id, details={"password": "reset"})
    session.commit()


def all_users(session: Session) -> Sequence[User]:
    """Every account (trusted caller: the command line)."""
    return session.scalars(select(User).order_by(User.id)).all()
