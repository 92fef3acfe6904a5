"""How people get into their accounts: passwords an admin resets, a user's own password, live sessions and tokens.

A reset password is made by the server and returned once (never stored in clear, never logged):
the admin passes it on, and with ``must_change`` the user has to choose their own at the next
login before anything else works (``auth.PasswordChangeRequired``). Every reset, change and
revocation ends the account's other sessions at once and is audited.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from broadcaster.db import utc_now
from broadcaster.errors import InvalidInput, NotFound
from broadcaster.models import ApiToken, Commune, Role, User
from broadcaster.services import auth, scoping, users
from broadcaster.services.audit import AuditAction, record

# No 0/O, 1/l/I: read aloud over the phone, or copied from a screen, without mistakes.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
WEB_SESSION_NAME = "web"


class PasswordWrong(InvalidInput):
    """The current password given to change it is not the account's."""

    code = "password_wrong"


class PasswordUnchanged(InvalidInput):
    """The new password is the one being replaced."""

    code = "password_unchanged"


class PasswordsDiffer(InvalidInput):
    """The new password and its repetition differ."""

    code = "passwords_differ"


class TokenNotFound(NotFound):
    """No such live session or token of an account the actor manages."""

    code = "token_not_found"


@dataclass(frozen=True)
class NewAccount:
    """An account just created, with its first password (shown once)."""

    user: User
    password: str


@dataclass(frozen=True)
class LiveToken:
    """A session or API token that still works."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    is_web: bool
    is_current: bool


def generate_password() -> str:
    """A random password easy to pass on by voice: three groups of four, about 59 bits."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


def create_account(session: Session, actor: User, *, username: str, full_name: str, role: Role,
                   commune_id: int | None) -> NewAccount:
    """Create an account with a generated password the user must change at the first login; committed."""
    password = generate_password()
    user = users.create_user(session, actor, username=username, password=password, role=role,
                             commune_id=commune_id, full_name=full_name)
    user.must_change_password = True
    session.commit()
    return NewAccount(user, password)


def reset_password(session: Session, actor: User, user_id: int, *, must_change: bool) -> str:
    """Give an account a new generated password (returned once), end its sessions; audited, committed."""
    user = users.get_user(session, actor, user_id)
    scoping.require_role(actor, Role.ADMIN)
    if user.id == actor.id:
        raise users.CannotChangeSelf("Hãy đổi mật khẩu của chính bạn ở trang «Đổi mật khẩu».")
    password = generate_password()
    user.password_hash = auth.hash_password(password)
    user.must_change_password = must_change
    ended = auth.revoke_all(session, user)
    record(session, actor=actor, action=AuditAction.EDIT, object_type="user", object_id=user.id,
           commune_id=user.commune_id,
           details={"password": "reset", "must_change": must_change, "sessions_ended": ended})
    session.commit()
    return password


def change_own_password(session: Session, user: User, *, current: str, new: str, repeated: str,
                        keep_token: str | None) -> None:
    """Change one's own password (the current one proves it is them); other sessions end. Committed."""
    if not auth.verify_password(user.password_hash, current):
        raise PasswordWrong("Mật khẩu hiện tại không đúng.")
    if new != repeated:
        raise PasswordsDiffer("Hai lần nhập mật khẩu mới không giống nhau.")
    if new == current:
        raise PasswordUnchanged("Mật khẩu mới phải khác mật khẩu hiện tại.")
    users.check_password(new)
    user.password_hash = auth.hash_password(new)
    user.must_change_password = False
    kept = auth.token_digest(keep_token) if keep_token else None
    ended = 0
    now = utc_now()
    for token in _live(session, user.id):
        if token.token_sha256 != kept:
            token.revoked_at = now
            ended += 1
    record(session, actor=user, action=AuditAction.EDIT, object_type="user", object_id=user.id,
           commune_id=user.commune_id, details={"password": "changed by the user", "sessions_ended": ended})
    session.commit()


def live_tokens(session: Session, actor: User, user_id: int, current_token: str | None = None) -> list[LiveToken]:
    """The sessions and API tokens of an account (one's own, or one the actor manages) that still work."""
    user = users.get_user(session, actor, user_id)
    current = auth.token_digest(current_token) if current_token else None
    return [
        LiveToken(t.id, t.name, t.created_at, t.last_used_at, t.expires_at, t.name == WEB_SESSION_NAME,
                  t.token_sha256 == current)
        for t in _live(session, user.id)
    ]


def revoke_token(session: Session, actor: User, token_id: int) -> User:
    """End one session or token (one's own, or of an account the actor manages); audited, committed."""
    token = session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:
        raise TokenNotFound(f"Không có phiên đăng nhập số {token_id} đang hoạt động.")
    try:
        owner = users.get_user(session, actor, token.user_id)
    except users.UserNotFound:
        raise TokenNotFound(f"Không có phiên đăng nhập số {token_id} đang hoạt động.") from None
    token.revoked_at = utc_now()
    record(session, actor=actor, action=AuditAction.LOGOUT, object_type="user", object_id=owner.id,
           commune_id=owner.commune_id, details={"token_id": token.id, "name": token.name, "by": "revoke"})
    session.commit()
    return owner


def set_active(session: Session, actor: User, user_id: int, active: bool) -> User:
    """Deactivate (ending every session at once) or reactivate an account; audited, committed."""
    return users.update_user(session, actor, user_id, users.UserChanges(is_active=active))


def accounts_of(session: Session, actor: User, commune: Commune | None) -> Sequence[User]:
    """The accounts of a commune (or the province-level ones, for a province admin), active first."""
    accounts = users.list_users(session, actor, commune.id if commune is not None else None)
    if commune is None:
        accounts = [u for u in accounts if u.commune_id is None]
    return sorted(accounts, key=lambda u: (not u.is_active, u.username))


def _live(session: Session, user_id: int) -> Sequence[ApiToken]:
    now = utc_now()
    return session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None),
               or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
        .order_by(ApiToken.created_at.desc())
    ).all()
