"""The scoping rules at their own level: role order, the province admin, what a user sees, and where new objects go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from broadcaster.db import Database
from broadcaster.models import Commune, Role, User
from broadcaster.services.scoping import (
    CommuneNotFound,
    CommuneRequired,
    ProvinceAdminOnly,
    RoleTooLow,
    acting_commune,
    can_see_commune,
    commune_filter,
    has_role,
    is_province_admin,
    require_province_admin,
    require_role,
    visible_commune,
)
from tests.scheduler.support import make_database, make_settings

ROLES = [Role.OFFICER, Role.APPROVER, Role.ADMIN]
NEEDED_WORDS = {Role.APPROVER: "cần vai trò lãnh đạo duyệt tin trở lên", Role.ADMIN: "cần vai trò quản trị trở lên"}


@pytest.fixture
def communes(tmp_path: Path) -> Iterator[tuple[Database, int, int]]:
    """A migrated database with two communes; yields it and their ids."""
    db = make_database(make_settings(tmp_path))
    with db.session() as s:
        first, second = Commune(code="xa-mot", name="Xã Một"), Commune(code="xa-hai", name="Xã Hai")
        s.add_all([first, second])
        s.flush()
        ids = first.id, second.id
    yield db, *ids
    db.dispose()


def user(role: Role, commune_id: int | None) -> User:
    """A user who is never stored: the rules read only role and commune."""
    return User(username=f"{role}-{commune_id}", role=role, commune_id=commune_id, password_hash="-")


@pytest.mark.parametrize("held", ROLES)
@pytest.mark.parametrize("needed", ROLES)
def test_each_role_includes_the_ones_before_it(held: Role, needed: Role) -> None:
    allowed = ROLES.index(held) >= ROLES.index(needed)
    assert has_role(user(held, 1), needed) is allowed
    if allowed:
        require_role(user(held, 1), needed)
    else:
        with pytest.raises(RoleTooLow) as refused:
            require_role(user(held, 1), needed)
        assert refused.value.code == "role_too_low"
        assert NEEDED_WORDS[needed] in refused.value.message


def test_only_an_admin_without_a_commune_is_a_province_admin() -> None:
    assert is_province_admin(user(Role.ADMIN, None))
    assert not is_province_admin(user(Role.ADMIN, 1))
    assert not is_province_admin(user(Role.APPROVER, None))
    require_province_admin(user(Role.ADMIN, None))
    for someone in (user(Role.ADMIN, 1), user(Role.APPROVER, None), user(Role.OFFICER, 1)):
        with pytest.raises(ProvinceAdminOnly) as refused:
            require_province_admin(someone)
        assert refused.value.code == "province_admin_only"


def test_a_commune_user_sees_only_their_own_commune() -> None:
    assert can_see_commune(user(Role.OFFICER, 1), 1)
    assert not can_see_commune(user(Role.OFFICER, 1), 2)
    assert not can_see_commune(user(Role.ADMIN, 1), 2)
    assert not can_see_commune(user(Role.OFFICER, 1), None)
    # A user without a commune who is not an admin sees nothing, not even objects of no commune.
    assert not can_see_commune(user(Role.APPROVER, None), None)
    assert can_see_commune(user(Role.ADMIN, None), 2)
    assert can_see_commune(user(Role.ADMIN, None), None)


def test_commune_filter_restricts_queries_the_same_way(communes: tuple[Database, int, int]) -> None:
    db, first, second = communes
    with db.session() as s:
        def seen(by: User) -> set[int]:
            return set(s.scalars(select(Commune.id).where(commune_filter(by, Commune.id))))

        assert seen(user(Role.OFFICER, first)) == {first}
        assert seen(user(Role.ADMIN, second)) == {second}
        assert seen(user(Role.ADMIN, None)) == {first, second}


def test_visible_commune_hides_other_and_missing_communes_alike(communes: tuple[Database, int, int]) -> None:
    db, first, second = communes
    with db.session() as s:
        assert visible_commune(s, user(Role.OFFICER, first), first).id == first
        assert visible_commune(s, user(Role.ADMIN, None), second).id == second
        for commune_id in (second, second + 100):
            with pytest.raises(CommuneNotFound) as hidden:
                visible_commune(s, user(Role.OFFICER, first), commune_id)
            assert hidden.value.code == "commune_not_found"


def test_acting_commune_defaults_to_the_users_own(communes: tuple[Database, int, int]) -> None:
    db, first, second = communes
    with db.session() as s:
        assert acting_commune(s, user(Role.OFFICER, first), None).id == first
        assert acting_commune(s, user(Role.ADMIN, None), second).id == second
        with pytest.raises(CommuneNotFound):
            acting_commune(s, user(Role.ADMIN, first), second)
        with pytest.raises(CommuneRequired) as missing:
            acting_commune(s, user(Role.ADMIN, None), None)
        assert missing.value.code == "commune_required"
