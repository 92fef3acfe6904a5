"""User accounts (admins): list, create, read, change (name, role, password, disabled)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from broadcaster.api.deps import CurrentUser, DbSession, JsonBody
from broadcaster.api.schemas.common import ERROR_RESPONSES, Id, IdPath
from broadcaster.api.schemas.registry import UserCreate, UserOut, UserUpdate
from broadcaster.services import users
from broadcaster.services.users import UserChanges

router = APIRouter(prefix="/users", tags=["tài khoản"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[UserOut])
def list_users(user: CurrentUser, session: DbSession,
               commune_id: Annotated[Id | None, Query()] = None) -> list[UserOut]:
    """The accounts you manage (admin)."""
    return [UserOut.of(u) for u in users.list_users(session, user, commune_id)]


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED, dependencies=[JsonBody])
def create_user(body: UserCreate, user: CurrentUser, session: DbSession) -> UserOut:
    """Create an account (admin; a commune admin only in its own commune)."""
    created = users.create_user(session, user, username=body.username, password=body.password, role=body.role,
                                commune_id=body.commune_id, full_name=body.full_name)
    return UserOut.of(created)


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: IdPath, user: CurrentUser, session: DbSession) -> UserOut:
    """One account (yours, or one you manage)."""
    return UserOut.of(users.get_user(session, user, user_id))


@router.patch("/{user_id}", response_model=UserOut, dependencies=[JsonBody])
def update_user(user_id: IdPath, body: UserUpdate, user: CurrentUser, session: DbSession) -> UserOut:
    """Change an account (admin); disabling it or changing its password revokes its tokens."""
    changes = UserChanges(full_name=body.full_name, role=body.role, is_active=body.is_active, password=body.password)
    return UserOut.of(users.update_user(session, user, user_id, changes))
