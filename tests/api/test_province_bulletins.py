"""Province → commune bulletins (TT39 source system) through the API and the real services.

The province writes once and its approver approves once; normal bulletins wait in each commune's
inbox, priority ones go into the next sessions ahead of local normal ones, emergencies air at once
on every chosen commune through the durable emergency path.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from broadcaster.delivery.keys import load_or_create_signing_key
from broadcaster.delivery.orders import OrderVerifier
from broadcaster.models import (
    Airing,
    AiringItem,
    AiringKind,
    AiringStatus,
    AuditEvent,
    Bulletin,
    BulletinStatus,
    Delivery,
    DeliveryOrder,
    DeliveryState,
    Priority,
    Role,
)
from broadcaster.services import auth, users
from broadcaster.services.handoff import ClusterProgramme
from broadcaster.services.programming.plan import load_candidates
from broadcaster.services.provisioning import wire_cluster_id
from broadcaster.speech import ProgrammePiece
from tests.api.world import PASSWORD, World, looks_vietnamese, today

API = "/api/v1"
NOTICE = {"title": "UBND tỉnh: phòng chống rét đậm", "text": "Bà con giữ ấm cho trẻ nhỏ, người già và gia súc."}


def province_account(world: World, username: str, role: Role) -> dict[str, str]:
    """Headers of a new province account (no commune) with ``role``."""
    with world.db.session() as session:
        user = users.create_user(session, None, username=username, password=PASSWORD, role=role, commune_id=None)
        return {"Authorization": f"Bearer {auth.issue_token(session, user, ttl=timedelta(days=1)).token}"}


@pytest.fixture
def province(world: World) -> dict[str, dict[str, str]]:
    """A province officer (writes) and a province approver (approves)."""
    return {"officer": province_account(world, "can-bo-tinh", Role.OFFICER),
            "approver": province_account(world, "lanh-dao-tinh", Role.APPROVER)}


def send(world: World, province: dict[str, dict[str, str]], priority: str, communes: tuple[str, ...] = ()) -> int:
    """Write a province bulletin as the province officer and approve it as the province approver."""
    body = {**NOTICE, "priority": priority, "commune_ids": [world.communes[c].id for c in communes]}
    created = world.client.post(f"{API}/province-bulletins", json=body, headers=province["officer"])
    assert created.status_code == 201, created.text
    bulletin_id: int = created.json()["id"]
    approved = world.client.post(f"{API}/province-bulletins/{bulletin_id}/approve", headers=province["approver"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    return bulletin_id


def test_a_normal_bulletin_waits_in_each_inbox_and_each_commune_accepts_or_declines(
        world: World, province: dict[str, dict[str, str]]) -> None:
    body = {**NOTICE, "commune_ids": [world.communes["A"].id, world.communes["B"].id]}
    created = world.client.post(f"{API}/province-bulletins", json=body, headers=province["officer"]).json()
    # Not approved yet: no commune sees it.
    assert world.client.get(f"{API}/communes/{world.communes['A'].id}/province-inbox", headers=world.headers("officer", "A")).json() == []
    # Only the province's approver approves.
    assert world.client.post(f"{API}/province-bulletins/{created['id']}/approve",
                             headers=province["officer"]).json()["error"]["code"] == "role_too_low"
    approved = world.client.post(f"{API}/province-bulletins/{created['id']}/approve", headers=province["approver"])
    assert approved.status_code == 200
    again = world.client.post(f"{API}/province-bulletins/{created['id']}/approve", headers=province["approver"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "province_bulletin_wrong_state"

    [item_a] = world.client.get(f"{API}/communes/{world.communes['A'].id}/province-inbox", headers=world.headers("officer", "A")).json()
    assert (item_a["province_bulletin_id"], item_a["state"], item_a["bulletin_id"]) == (created["id"], "pending", None)
    with world.db.session() as session:  # normal: nothing airs before the commune chooses
        assert session.scalar(select(Bulletin).where(Bulletin.province_bulletin_id == created["id"])) is None

    day = today() + timedelta(days=1)
    accepted = world.client.post(f"{API}/communes/{world.communes['A'].id}/province-inbox/{created['id']}/accept", headers=world.headers("officer", "A"),
                                 json={"start_date": day.isoformat(), "end_date": day.isoformat()})
    assert accepted.status_code == 200, accepted.text
    copy_id = accepted.json()["bulletin_id"]
    assert accepted.json()["state"] == "accepted"
    twice = world.client.post(f"{API}/communes/{world.communes['A'].id}/province-inbox/{created['id']}/accept", headers=world.headers("officer", "A"))
    assert twice.status_code == 409 and looks_vietnamese(twice.json()["error"]["message"])

    no_reason = world.client.post(f"{API}/communes/{world.communes['B'].id}/province-inbox/{created['id']}/decline", json={"reason": "  "},
                                  headers=world.headers("officer", "B"))
    assert no_reason.status_code == 422 and no_reason.json()["error"]["code"] == "reason_required"
    declined = world.client.post(f"{API}/communes/{world.communes['B'].id}/province-inbox/{created['id']}/decline", headers=world.headers("officer", "B"),
                                 json={"reason": "Xã đã phát trong hội nghị thôn."})
    assert declined.json()["state"] == "declined"

    # The copy airs like a local bulletin of A on the chosen day, and only there.
    copy = world.client.get(f"{API}/bulletins/{copy_id}", headers=world.headers("officer", "A")).json()
    assert (copy["status"], copy["commune_id"], copy["start_date"]) == (
        "approved", world.communes["A"].id, day.isoformat())
    assert world.client.get(f"{API}/bulletins/{copy_id}", headers=world.headers("officer", "B")).status_code == 404
    # The commune cannot change or take off the province's bulletin.
    edit = world.client.patch(f"{API}/bulletins/{copy_id}", json={"title": "Sửa"}, headers=world.headers("approver"))
    assert edit.status_code == 403 and edit.json()["error"]["code"] == "province_bulletin_read_only"
    cancel = world.client.post(f"{API}/bulletins/{copy_id}/cancel", json={"reason": "x"},
                               headers=world.headers("admin"))
    assert cancel.status_code == 403 and cancel.json()["error"]["code"] == "province_bulletin_read_only"

    report = world.client.get(f"{API}/province-bulletins/{created['id']}", headers=province["officer"]).json()
    outcomes = {line["commune_id"]: line for line in report["communes"]}
    assert outcomes[world.communes["A"].id]["outcome"] == "pending"  # accepted, not aired yet
    assert outcomes[world.communes["B"].id]["outcome"] == "declined"
    assert outcomes[world.communes["B"].id]["decline_reason"] == "Xã đã phát trong hội nghị thôn."
    # A commune sees only its own line; the province's list is the province's.
    own = world.client.get(f"{API}/province-bulletins/{created['id']}", headers=world.headers("officer", "A")).json()
    assert [line["commune_id"] for line in own["communes"]] == [world.communes["A"].id]
    listing = world.client.get(f"{API}/province-bulletins", headers=world.headers("admin", "A"))
    assert listing.status_code == 403 and listing.json()["error"]["code"] == "province_users_only"
    with world.db.session() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "province_bulletin",
                                                                  AuditEvent.object_id == created["id"])).all()
    assert list(actions) == ["create", "approve", "accept", "decline"]


def test_a_commune_sees_only_what_was_sent_to_it(world: World, province: dict[str, dict[str, str]]) -> None:
    bulletin_id = send(world, province, "normal", communes=("A",))
    assert world.client.get(f"{API}/communes/{world.communes['B'].id}/province-inbox", headers=world.headers("officer", "B")).json() == []
    for path in (f"/province-bulletins/{bulletin_id}",):
        response = world.client.get(f"{API}{path}", headers=world.headers("admin", "B"))
        assert response.status_code == 404 and response.json()["error"]["code"] == "province_bulletin_not_found"
    refused = world.client.post(f"{API}/communes/{world.communes['B'].id}/province-inbox/{bulletin_id}/decline", json={"reason": "Không"},
                                headers=world.headers("officer", "B"))
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "province_bulletin_not_found"
    # Nor can B act in A's inbox.
    foreign = world.client.post(f"{API}/communes/{world.communes['A'].id}/province-inbox/{bulletin_id}/decline",
                                json={"reason": "Không"}, headers=world.headers("officer", "B"))
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "commune_not_found"
    commune_write = world.client.post(f"{API}/province-bulletins", json=NOTICE, headers=world.headers("admin", "A"))
    assert commune_write.status_code == 403 and commune_write.json()["error"]["code"] == "province_users_only"
    assert world.client.get(f"{API}/communes/{world.communes['A'].id}/province-inbox").status_code == 401
    # Four eyes: a province approver does not approve what they wrote.
    own = world.client.post(f"{API}/province-bulletins", json=NOTICE, headers=province["approver"]).json()
    self_approval = world.client.post(f"{API}/province-bulletins/{own['id']}/approve", headers=province["approver"])
    assert self_approval.status_code == 403 and self_approval.json()["error"]["code"] == "four_eyes_required"
    unknown = world.client.post(f"{API}/province-bulletins", json={**NOTICE, "commune_ids": [999999]},
                                headers=province["officer"])
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "commune_not_found"


def test_a_priority_bulletin_goes_into_the_next_sessions_ahead_of_local_normal_ones(
        world: World, province: dict[str, dict[str, str]]) -> None:
    local = world.bulletin("A", BulletinStatus.APPROVED)  # approved first: it would lead its class
    bulletin_id = send(world, province, "priority")
    [item] = world.client.get(f"{API}/communes/{world.communes['A'].id}/province-inbox", headers=world.headers("officer", "A")).json()
    assert item["state"] == "accepted" and item["bulletin_id"]
    with world.db.session() as session:
        order = [c.bulletin_id for c in load_candidates(session, world.communes["A"].id, today(),
                                                        world.settings.data_dir / "uploads")]
        copies = dict(session.execute(select(Bulletin.commune_id, Bulletin.id)
                                      .where(Bulletin.province_bulletin_id == bulletin_id)).all())
    assert set(copies) == {world.communes["A"].id, world.communes["B"].id}
    assert order == [copies[world.communes["A"].id], local]
    accept = world.client.post(f"{API}/communes/{world.communes['A'].id}/province-inbox/{bulletin_id}/accept", headers=world.headers("officer", "A"))
    assert accept.status_code == 409  # nothing to choose: the province sent it


def test_an_emergency_airs_at_once_in_every_commune_and_the_report_counts_clusters(
        world: World, province: dict[str, dict[str, str]]) -> None:
    bulletin_id = send(world, province, "emergency")
    played = {p.cluster_id for p in world.handoff.programmes if p.priority == Priority.EMERGENCY}
    assert played == {world.communes["A"].cluster_id, world.communes["B"].cluster_id}
    with world.db.session() as session:
        airings = session.scalars(select(Airing).where(Airing.kind == AiringKind.EMERGENCY)).all()
        assert sorted(a.commune_id for a in airings) == sorted([world.communes["A"].id, world.communes["B"].id])
        # The agent of A reports it played (as services.agent_reports would record it); B's missed.
        for airing, state in zip(sorted(airings, key=lambda a: a.commune_id), (DeliveryState.PLAYED,
                                                                               DeliveryState.MISSED), strict=True):
            session.execute(update(Delivery).where(Delivery.airing_id == airing.id).values(state=state))
        session.commit()
    report = world.client.get(f"{API}/province-bulletins/{bulletin_id}", headers=province["approver"]).json()
    lines = {line["commune_id"]: line for line in report["communes"]}
    a, b = lines[world.communes["A"].id], lines[world.communes["B"].id]
    assert (a["outcome"], a["clusters_played"], a["clusters_missed"]) == ("aired", 1, 0)
    assert (b["outcome"], b["clusters_played"], b["clusters_missed"]) == ("pending", 0, 1)
    # Each commune's broadcast log shows its own airing of the province's bulletin.
    log = world.client.get(f"{API}/broadcast-log", headers=world.headers("officer", "A"))
    assert log.status_code == 200 and NOTICE["title"] in log.text


def test_a_province_emergency_whose_airing_died_after_approval_is_resumed_like_any_emergency(
        world: World, province: dict[str, dict[str, str]]) -> None:
    planned = approved_unaired(world)
    assert world.handoff.programmes == [] and len(planned) == 2  # one accepted airing per commune
    emergencies = world.runtime.programming.emergencies
    for airing_id in planned:  # what the scheduler's resume does once the acceptance grace has passed
        assert emergencies.resume(airing_id).status == "handed_off"
    assert sorted(p.cluster_id for p in world.handoff.programmes) == sorted(
        [world.communes["A"].cluster_id, world.communes["B"].cluster_id])
    for airing_id in planned:  # resumed again: nothing is handed off twice
        emergencies.resume(airing_id)
    assert len(world.handoff.programmes) == 2


def approved_unaired(world: World) -> list[int]:
    """A province emergency to A and B approved with no programming service (as if the process died after
    the commit): the ids of its two accepted airings, still planned."""
    from broadcaster.models import User
    from broadcaster.services.province_bulletins import ProvinceBulletinFields, ProvinceBulletins

    with world.db.session() as session:
        service = ProvinceBulletins(session, clock=world.runtime.clock)
        officer, approver = (session.scalar(select(User).where(User.username == name))
                             for name in ("can-bo-tinh", "lanh-dao-tinh"))
        assert officer is not None and approver is not None
        sent = service.create(officer, ProvinceBulletinFields(NOTICE["title"], NOTICE["text"], Priority.EMERGENCY))
        service.approve(approver, sent.id)
        return list(session.scalars(select(Airing.id).where(Airing.kind == AiringKind.EMERGENCY).order_by(Airing.id)))


def test_a_province_emergency_is_one_render_and_one_play_time_for_every_commune(
        world: World, province: dict[str, dict[str, str]]) -> None:
    bulletin_id = send(world, province, "emergency")
    programmes = [p for p in world.handoff.programmes if p.priority == Priority.EMERGENCY]
    assert len(programmes) == 2
    # Same text, voice and reading in both communes: the same programme, started together.
    assert len({p.audio.sha256 for p in programmes}) == 1 and len({p.play_at for p in programmes}) == 1
    with world.db.session() as session:
        copies = session.scalars(select(Bulletin).where(Bulletin.province_bulletin_id == bulletin_id)).all()
        airings = session.scalars(select(Airing).where(Airing.kind == AiringKind.EMERGENCY)).all()
        composed = session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "compose",
                                                                      AuditEvent.object_type == "airing")).all()
        deliveries = session.scalars(select(Delivery)).all()
    assert {c.status for c in copies} == {BulletinStatus.AIRED} and len(copies) == 2
    assert {a.status for a in airings} == {AiringStatus.HANDED_OFF}
    assert sorted(composed) == sorted(a.id for a in airings)  # each commune's log names its own airing
    assert {(d.airing_id, d.cluster_id) for d in deliveries} == {(p.airing_id, p.cluster_id) for p in programmes}
    assert {a.starts_at for a in airings} == {programmes[0].play_at}


def test_a_province_batch_leaves_an_airing_already_on_the_air_and_reports_a_commune_that_cannot_air(
        world: World, province: dict[str, dict[str, str]]) -> None:
    first, second = approved_unaired(world)
    programming = world.runtime.programming
    assert programming.emergencies.air(first).status == "handed_off"  # one went out on its own meanwhile
    with world.db.session() as session:  # the other's copy was taken off before it aired
        copy = session.scalar(select(AiringItem.bulletin_id).where(AiringItem.airing_id == second).limit(1))
        session.execute(update(Bulletin).where(Bulletin.id == copy).values(status=BulletinStatus.CANCELLED))
    handed = len(world.handoff.programmes)
    errors = programming.air_accepted_emergencies([first, second])
    assert list(errors) == [second] and errors[second].code == "bulletin_not_airable"
    assert len(world.handoff.programmes) == handed  # nothing handed off twice, nothing for the cancelled copy
    with world.db.session() as session:
        status, note, claimed = session.execute(select(Airing.status, Airing.note, Airing.claimed_by)
                                                .where(Airing.id == second)).one()
    assert status == AiringStatus.PLANNED and claimed is None and note  # released, with why, for the resume


def test_a_province_batch_resumes_an_airing_a_dead_attempt_left_half_handed_off(
        world: World, province: dict[str, dict[str, str]]) -> None:
    first, second = approved_unaired(world)
    with world.db.session() as session:  # a dead attempt recorded where ``first`` goes, then died
        cluster = session.scalar(select(AiringItem.cluster_id).where(AiringItem.airing_id == first))
    programming = world.runtime.programming
    audio = programming.speech.render_programme([ProgrammePiece(text=NOTICE["text"])], chime=True)
    now = world.runtime.clock.now()
    assert cluster is not None
    programming.emergencies.record_deliveries([ClusterProgramme(first, cluster, audio, now + timedelta(seconds=30),
                                                                now + timedelta(seconds=600), Priority.EMERGENCY)])
    assert programming.air_accepted_emergencies([first, second]) == {}
    by_airing = {p.airing_id: p for p in world.handoff.programmes}
    assert sorted(by_airing) == [first, second] and len(world.handoff.programmes) == 2
    # The recorded one goes out as recorded (its audio and play time), not composed again.
    assert by_airing[first].audio.sha256 == audio.sha256
    assert by_airing[first].play_at == now + timedelta(seconds=30)
    assert programming.air_accepted_emergencies([first, second]) == {}  # again: nothing twice
    assert len(world.handoff.programmes) == 2


def test_a_province_emergency_answers_once_every_order_is_signed_in_the_outbox(delivering_world: World) -> None:
    world = delivering_world  # the real delivery service: orders signed, stored in the outbox, queued
    accounts = {"officer": province_account(world, "can-bo-tinh", Role.OFFICER),
                "approver": province_account(world, "lanh-dao-tinh", Role.APPROVER)}
    bulletin_id = send(world, accounts, "emergency")
    verifier = OrderVerifier([load_or_create_signing_key(world.settings.data_dir).public_key()])
    with world.db.session() as session:  # read right after the answer: nothing was left for later
        orders = session.scalars(select(DeliveryOrder).where(DeliveryOrder.kind == "play")).all()
        copies = dict(session.execute(select(Bulletin.commune_id, Bulletin.status)
                                      .where(Bulletin.province_bulletin_id == bulletin_id)).all())
    assert sorted(o.cluster_id for o in orders) == sorted(world.communes[c].cluster_id for c in ("A", "B"))
    assert copies == {world.communes["A"].id: BulletinStatus.AIRED, world.communes["B"].id: BulletinStatus.AIRED}
    for order in orders:
        played = verifier.verify(order.envelope, cluster_id=wire_cluster_id(order.cluster_id),
                                 now=world.runtime.clock.now())
        assert played.priority == "emergency" and played.audio_sha256 == order.audio_sha256
