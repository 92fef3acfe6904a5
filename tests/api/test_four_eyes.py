"""Four eyes (issue 10, item 8): an approver does not approve their own bulletin, unless the commune turned
the rule off, or an emergency has no other leader to approve it (recorded as such in the audit log)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from broadcaster.models import AuditEvent, Bulletin, Role, User
from broadcaster.services import auth, users
from tests.api.world import PASSWORD, World

API = "/api/v1"
EMERGENCY = {"title": "Khẩn: lũ", "text": "Nước lũ lên nhanh, bà con thôn Bản Lướt sơ tán ngay.", "repeat": 1}


def _own_submitted(world: World, **fields: Any) -> int:
    body = {"title": "Họp dân", "text": "Tối nay họp dân ở nhà văn hóa.", **fields}
    created = world.client.post(f"{API}/bulletins", json=body, headers=world.headers("approver"))
    assert created.status_code == 201, created.text
    submitted = world.client.post(f"{API}/bulletins/{created.json()['id']}/submit", headers=world.headers("approver"))
    assert submitted.status_code == 200
    return int(created.json()["id"])


def _details(world: World, action: str, bulletin_id: int) -> dict[str, Any]:
    with world.db.session() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.object_type == "bulletin", AuditEvent.object_id == bulletin_id, AuditEvent.action == action)).one()
        return dict(event.details)


def _second_approver(world: World) -> None:
    with world.db.session() as session:
        users.create_user(session, None, username="pho-chu-tich-a", password=PASSWORD, role=Role.APPROVER,
                          commune_id=world.communes["A"].id)


def test_an_approver_cannot_approve_their_own_bulletin(world: World) -> None:
    bulletin_id = _own_submitted(world)
    refused = world.client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=world.headers("approver"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "four_eyes_required"
    assert "người soạn không tự duyệt" in refused.json()["error"]["message"]
    approved = world.client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=world.headers("admin"))
    assert approved.status_code == 200 and approved.json()["approver_id"] == world.user("admin").id
    assert _details(world, "approve", bulletin_id) == {}


def test_the_rule_is_a_commune_setting_and_its_absence_is_on_the_record(world: World) -> None:
    commune = world.client.get(f"{API}/communes/{world.communes['A'].id}", headers=world.headers("admin")).json()
    assert commune["four_eyes"] is True  # on by default
    turned = world.client.patch(f"{API}/communes/{world.communes['A'].id}", json={"four_eyes": False},
                                headers=world.headers("admin"))
    assert turned.status_code == 200 and turned.json()["four_eyes"] is False
    bulletin_id = _own_submitted(world)
    approved = world.client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=world.headers("approver"))
    assert approved.status_code == 200
    assert _details(world, "approve", bulletin_id) == {"self_approval": "four_eyes_off"}
    # Commune B keeps the rule.
    assert world.client.get(f"{API}/communes/{world.communes['B'].id}",
                            headers=world.headers("admin", "B")).json()["four_eyes"] is True


def test_the_single_leader_sends_an_emergency_alone_and_the_audit_says_so(world: World) -> None:
    sent = world.client.post(f"{API}/emergencies", json=EMERGENCY, headers=world.headers("approver"))
    assert sent.status_code == 201, sent.text
    assert _details(world, "emergency", sent.json()["bulletin"]["id"]) == {"self_approval": "single_leader"}
    # Their own emergency submitted the normal way is approved by them too: there is nobody else.
    bulletin_id = _own_submitted(world, priority="emergency", title="Khẩn: sạt lở")
    approved = world.client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=world.headers("approver"))
    assert approved.status_code == 200 and approved.json()["status"] == "aired"
    assert _details(world, "approve", bulletin_id) == {"self_approval": "single_leader"}


def test_with_another_leader_an_emergency_needs_them_or_a_declaration(world: World) -> None:
    _second_approver(world)
    refused = world.client.post(f"{API}/emergencies", json=EMERGENCY, headers=world.headers("approver"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "four_eyes_required"
    assert "lãnh đạo trực duy nhất" in refused.json()["error"]["message"]
    with world.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Bulletin)) == 0  # nothing stored, nothing aired
    assert world.handoff.programmes == []
    declared = world.client.post(f"{API}/emergencies", json={**EMERGENCY, "sole_leader_on_duty": True},
                                 headers=world.headers("approver"))
    assert declared.status_code == 201, declared.text
    assert _details(world, "emergency", declared.json()["bulletin"]["id"]) == {
        "self_approval": "declared_sole_leader_on_duty"}
    assert len(world.handoff.programmes) == 1
    # The normal path: their own emergency waits for the other leader, who approves it (it airs at once).
    bulletin_id = _own_submitted(world, priority="emergency", title="Khẩn: sạt lở")
    own = world.client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=world.headers("approver"))
    assert own.status_code == 403 and own.json()["error"]["code"] == "four_eyes_required"
    with world.db.session() as session:
        other = session.scalars(select(User).where(User.username == "pho-chu-tich-a")).one()


    with world.db.session() as session:
        token = auth.issue_token(session, session.get_one(User, other.id), ttl=timedelta(hours=1)).token
    approved = world.client.post(f"{API}/bulletins/{bulletin_id}/approve",
                                 headers={"Authorization": f"Bearer {token}"})
    assert approved.status_code == 200 and approved.json()["status"] == "aired"
    assert len(world.handoff.programmes) == 2
