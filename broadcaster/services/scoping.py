"""Who may see and do what: the scoping rules, in one place.

A user belongs to one commune and sees only that commune's objects; a province admin (an admin
with no commune) sees every commune. Someone else's object is reported as *not found* (404), so a
user cannot even learn that it exists; a role that is too low for an action on a visible object
is *forbidden* (403). Visibility is always checked before the role.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from broadcaster.errors import InvalidInput, NotFound, PermissionDenied
from broadcaster.models import Commune, Role, User

_ROLE_RANK = {Role.OFFICER: 1, Role.APPROVER: 2, Role.ADMIN: 3}

ROLE_LABELS = {Role.OFFICER: "cán bộ văn hóa", Role.APPROVER: "lãnh đạo duyệt tin", Role.ADMIN: "quản trị"}


class RoleTooLow(PermissionDenied):
    """The user's role does not allow this action."""

    code = "role_too_low"


class ProvinceAdminOnly(PermissionDenied):
    """Only a province-level admin may do this."""

    code = "province_admin_only"


class CommuneNotFound(NotFound):
    """No such commune, or one the user may not see."""

    code = "commune_not_found"


class CommuneRequired(InvalidInput):
    """A province admin must say which commune an object belongs to."""

    code = "commune_required"


def is_province_admin(user: User) -> bool:
    """True for an admin with no commune: one who acts on the whole province."""
    return user.role == Role.ADMIN and user.commune_id is None


def has_role(user: User, role: Role) -> bool:
    """True if the user's role is ``role`` or above (each role includes the ones before it)."""
    return _ROLE_RANK[user.role] >= _ROLE_RANK[role]


def require_role(user: User, role: Role) -> None:
    """Refuse with 403 unless the user's role is ``role`` or above."""
    if not has_role(user, role):
        raise RoleTooLow(
            f"Tài khoản của bạn không có quyền làm việc này (cần vai trò {ROLE_LABELS[role]} trở lên).",
            detail=f"{user.role} < {role}",
        )


def require_province_admin(user: User) -> None:
    """Refuse with 403 unless the user is a province admin."""
    if not is_province_admin(user):
        raise ProvinceAdminOnly("Chỉ quản trị viên cấp tỉnh mới được làm việc này.")


def can_see_commune(user: User, commune_id: int | None) -> bool:
    """True if the user may see objects of ``commune_id``."""
    return is_province_admin(user) or (commune_id is not None and user.commune_id == commune_id)


def commune_filter(user: User, column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]
                   ) -> ColumnElement[bool]:
    """A WHERE clause restricting ``column`` (a commune id) to what the user may see."""
    if is_province_admin(user):
        return true()
    return column == user.commune_id


def commune_not_found(commune_id: int | None) -> CommuneNotFound:
    """The error for a commune that does not exist or is not visible (the two look the same)."""
    return CommuneNotFound(f"Không tìm thấy xã/phường số {commune_id}.", detail=f"commune {commune_id}")


def visible_commune(session: Session, user: User, commune_id: int) -> Commune:
    """The commune if it exists and the user may see it; 404 otherwise."""
    commune = session.get(Commune, commune_id)
    if commune is None or not can_see_commune(user, commune.id):
        raise commune_not_found(commune_id)
    return commune


def acting_commune(session: Session, user: User, requested: int | None) -> Commune:
    """The commune a new object goes into: the one asked for (if visible), else the user's own."""
    if requested is None:
        if user.commune_id is None:
            raise CommuneRequired("Quản trị viên cấp tỉnh cần chọn xã/phường (trường commune_id).")
        requested = user.commune_id
    return visible_commune(session, user, requested)
