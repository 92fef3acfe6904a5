"""Authentication: argon2 password hashes and bearer tokens stored as their sha256.

Tokens are 256 random bits, so a fast hash is enough to store them (nobody can brute-force the
preimage); passwords are low-entropy and get argon2id.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from broadcaster.db import utc_now
from broadcaster.errors import NotAuthenticated, PermissionDenied
from broadcaster.models import ApiToken, User
from broadcaster.services.audit import AuditAction, record

TOKEN_PREFIX = "bc_"
# Writing last_used_at on every request would turn each read into a write (and an fsync).
LAST_USED_RESOLUTION = timedelta(hours=1)


class TokenMissing(NotAuthenticated):
    """No bearer token was sent."""

    code = "token_missing"


class TokenInvalid(NotAuthenticated):
    """The token is unknown, revoked, expired, or belongs to a disabled account."""

    code = "token_invalid"


class PasswordChangeRequired(PermissionDenied):
    """An admin reset the password: the user must choose their own (on the web page) first."""

    code = "password_change_required"


class LoginFailed(NotAuthenticated):
    """Wrong user name or password (we do not say which)."""

    code = "login_failed"


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the clear value is shown once and never stored."""

    token: str
    expires_at: datetime
    user: User


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verifying against this when the user does not exist keeps the timing of a failed login the same.
    return _hasher().hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches the stored argon2 hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """The sha256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, *, ttl: timedelta, name: str = "") -> IssuedToken:
    """Create a token for ``user`` valid for ``ttl`` and commit it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utc_now() + ttl
    session.add(ApiToken(user_id=user.id, token_sha256=token_digest(token), name=name[:100],
                         expires_at=expires_at))
    session.commit()
    return IssuedToken(token=token, expires_at=expires_at, user=user)


def login(session: Session, username: str, password: str, *, ttl: timedelta, name: str = "login") -> IssuedToken:
    """Check a user name and password and issue a token named ``name``; ``LoginFailed`` if they do not match."""
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        verify_password(_dummy_hash(), password)
        raise LoginFailed("Tên đăng nhập hoặc mật khẩu không đúng.")
    if not verify_password(user.password_hash, password) or not user.is_active:
        raise LoginFailed("Tên đăng nhập hoặc mật khẩu không đúng.")
    record(session, actor=user, action=AuditAction.LOGIN, object_type="user", object_id=user.id,
           commune_id=user.commune_id)
    return issue_token(session, user, ttl=ttl, name=name)


def _find_token(session: Session, token: str | None) -> ApiToken:
    if not token:
        raise TokenMissing("Cần đăng nhập: thiếu mã truy cập (Authorization: Bearer ...).")
    # One round trip for the token, its user and the user's commune (which most requests then act in:
    # ``scoping.visible_commune`` finds it in the session).
    found = session.scalars(
        select(ApiToken).where(ApiToken.token_sha256 == token_digest(token))
        .options(joinedload(ApiToken.user).joinedload(User.commune))
    ).first()
    now = utc_now()
    if (
        found is None
        or found.revoked_at is not None
        or (found.expires_at is not None and found.expires_at <= now)
        or not found.user.is_active
    ):
        raise TokenInvalid("Mã truy cập không hợp lệ hoặc đã hết hạn. Hãy đăng nhập lại.")
    return found


def authenticate(session: Session, token: str | None, *, allow_password_change: bool = False) -> User:
    """The active user a bearer token belongs to; ``TokenMissing``/``TokenInvalid`` otherwise.

    A user whose password an admin reset gets ``PasswordChangeRequired`` until they chose their own,
    unless the caller is the page where they choose it (``allow_password_change``).
    """
    found = _find_token(session, token)
    if found.user.must_change_password and not allow_password_change:
        raise PasswordChangeRequired("Mật khẩu vừa được đặt lại: hãy đăng nhập trên trang web và đổi mật khẩu trước.")
    now = utc_now()
    if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
        found.last_used_at = now
        session.commit()
    return found.user


def revoke(session: Session, token: str | None) -> None:
    """Revoke a token (log out) and commit."""
    found = _find_token(session, token)
    found.revoked_at = utc_now()
    record(session, actor=found.user, action=AuditAction.LOGOUT, object_type="user", object_id=found.user_id,
           commune_id=found.user.commune_id)
    session.commit()


def revoke_all(session: Session, user: User) -> int:
    """Revoke every live token of ``user`` (when disabled or its password changes); not committed."""
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
    count = 0
    now = utc_now()
    for token in tokens:
        token.revoked_at = now
        count += 1
    return count
