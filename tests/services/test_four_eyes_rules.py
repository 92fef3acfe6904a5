"""Four eyes, at the rule itself (services.four_eyes) on a real database: who counts as another leader,
when an author may approve their own bulletin, and what the audit is told about it."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import Commune, Role, User
from broadcaster.services.four_eyes import (
    FourEyesRequired,
    check_province_self_approval,
    check_self_approval,
    other_leaders,
)
from tests.scheduler.support import add_commune, make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def add_user(db: Database, name: str, role: Role, commune_id: int | None, *, active: bool = True) -> int:
    with db.session() as s:
        user = User(username=name, role=role, commune_id=commune_id, password_hash="x", is_active=active)
        s.add(user)
        s.flush()
        return user.id


def leaders(db: Database, commune_id: int | None, actor_id: int) -> int:
    with db.session() as s:
        return other_leaders(s, commune_id, s.get_one(User, actor_id))


def self_approval(db: Database, commune_id: int, actor_id: int, *, emergency: bool,
                  declared: bool = False) -> dict[str, str]:  # fmt: skip
    # Without a declaration the keyword is left out, as the approval of a submitted bulletin leaves it out.
    declaration = {"declared_sole_leader": True} if declared else {}
    with db.session() as s:
        return check_self_approval(s, commune_id, s.get_one(User, actor_id), emergency=emergency, **declaration)


def province_self_approval(db: Database, actor_id: int, *, emergency: bool) -> dict[str, str]:
    with db.session() as s:
        return check_province_self_approval(s, s.get_one(User, actor_id), emergency=emergency)


def test_other_leaders_are_the_active_approvers_of_the_commune_besides_the_actor(db: Database) -> None:
    ids = add_commune(db, code="xa-mot")
    neighbour = add_commune(db, code="xa-hai")
    actor = ids["author"]  # an approver of the commune
    assert leaders(db, ids["commune"], actor) == 0
    add_user(db, "can-bo", Role.OFFICER, ids["commune"])
    add_user(db, "nghi-viec", Role.APPROVER, ids["commune"], active=False)
    add_user(db, "quan-tri-tinh", Role.ADMIN, None)
    add_user(db, "lanh-dao-tinh", Role.APPROVER, None)
    assert leaders(db, ids["commune"], actor) == 0  # none of these approves for the commune
    assert leaders(db, neighbour["commune"], neighbour["author"]) == 0
    second = add_user(db, "pho-chu-tich", Role.APPROVER, ids["commune"])
    assert leaders(db, ids["commune"], actor) == 1
    assert leaders(db, ids["commune"], second) == 1  # the first approver, seen from the second
    assert leaders(db, neighbour["commune"], neighbour["author"]) == 0


def test_the_provinces_leaders_are_its_active_admins_and_approvers(db: Database) -> None:
    ids = add_commune(db)
    admin = add_user(db, "quan-tri", Role.ADMIN, None)
    assert leaders(db, None, admin) == 0
    add_user(db, "quan-tri-nghi", Role.ADMIN, None, active=False)
    add_user(db, "van-thu-tinh", Role.OFFICER, None)
    assert leaders(db, None, admin) == 0  # the commune's approver (ids["author"]) is no province leader
    approver = add_user(db, "lanh-dao-tinh", Role.APPROVER, None)
    assert leaders(db, None, admin) == 1
    add_user(db, "quan-tri-hai", Role.ADMIN, None)
    assert leaders(db, None, admin) == 2 and leaders(db, None, approver) == 2
    assert leaders(db, ids["commune"], ids["author"]) == 0


def test_a_commune_that_turned_four_eyes_off_lets_the_author_approve_on_the_record(db: Database) -> None:
    ids = add_commune(db, four_eyes=False)
    add_user(db, "pho-chu-tich", Role.APPROVER, ids["commune"])
    for emergency in (False, True):
        assert self_approval(db, ids["commune"], ids["author"], emergency=emergency) == {
            "self_approval": "four_eyes_off"}


def test_the_single_leader_approves_their_own_emergency_but_not_a_normal_bulletin(db: Database) -> None:
    ids = add_commune(db)
    assert self_approval(db, ids["commune"], ids["author"], emergency=True) == {"self_approval": "single_leader"}
    with pytest.raises(FourEyesRequired) as refused:
        self_approval(db, ids["commune"], ids["author"], emergency=False)
    assert refused.value.code == "four_eyes_required" and refused.value.status == 403
    assert "người soạn không tự duyệt" in refused.value.message
    with pytest.raises(FourEyesRequired):
        self_approval(db, ids["commune"], ids["author"], emergency=False, declared=True)


def test_with_another_leader_an_emergency_needs_them_or_the_authors_declaration(db: Database) -> None:
    ids = add_commune(db)
    add_user(db, "pho-chu-tich", Role.APPROVER, ids["commune"])
    with pytest.raises(FourEyesRequired) as refused:
        self_approval(db, ids["commune"], ids["author"], emergency=True)
    assert "lãnh đạo trực duy nhất" in refused.value.message
    assert refused.value.detail == f"user {ids['author']} self-approving an emergency of commune {ids['commune']}"
    assert self_approval(db, ids["commune"], ids["author"], emergency=True, declared=True) == {
        "self_approval": "declared_sole_leader_on_duty"}
    with db.session() as s:
        s.get_one(Commune, ids["commune"]).four_eyes = False
    assert self_approval(db, ids["commune"], ids["author"], emergency=True, declared=True) == {
        "self_approval": "four_eyes_off"}


def test_the_province_always_applies_four_eyes_except_for_its_single_leaders_emergency(db: Database) -> None:
    admin = add_user(db, "quan-tri", Role.ADMIN, None)
    assert province_self_approval(db, admin, emergency=True) == {"self_approval": "single_leader"}
    with pytest.raises(FourEyesRequired) as refused:
        province_self_approval(db, admin, emergency=False)
    assert "Tỉnh áp dụng duyệt hai người" in refused.value.message
    assert refused.value.detail == f"user {admin} self-approving a province bulletin"
    add_user(db, "lanh-dao-tinh", Role.APPROVER, None)
    with pytest.raises(FourEyesRequired):
        province_self_approval(db, admin, emergency=True)
