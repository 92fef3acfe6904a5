"""The bulletin workflow over HTTP: create, read, list, edit, submit, approve, reject, cancel, idempotency."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from broadcaster.models import AuditEvent, Bulletin, BulletinStatus
from tests.api.world import World, today, wav_bytes

API = "/api/v1"


def _create(world: World, actor: str = "officer", **body: object) -> dict:  # type: ignore[type-arg]
    payload = {"title": "Lịch tiêm phòng", "text": "Sáng thứ Hai, trạm y tế xã tiêm phòng cho trẻ em."}
    payload.update(body)
    response = world.client.post(f"{API}/bulletins", json=payload, headers=world.headers(actor))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_full_workflow_and_audit_trail(world: World) -> None:
    client = world.client
    start = today() + timedelta(days=1)
    created = _create(world, start_date=start.isoformat(), end_date=(start + timedelta(days=2)).isoformat(),
                      repeat=2, zone_ids=[world.communes["A"].zone_id])
    assert created["status"] == "draft"
    assert created["target_all"] is False and created["zone_ids"] == [world.communes["A"].zone_id]
    assert created["author_id"] == world.user("officer").id
    bulletin_id = created["id"]

    edited = client.patch(f"{API}/bulletins/{bulletin_id}", json={"title": "Lịch tiêm phòng (sửa)", "repeat": 3},
                          headers=world.headers("officer"))
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Lịch tiêm phòng (sửa)" and edited.json()["repeat"] == 3

    submitted = client.post(f"{API}/bulletins/{bulletin_id}/submit", headers=world.headers("officer"))
    assert submitted.json()["status"] == "submitted"
    assert client.patch(f"{API}/bulletins/{bulletin_id}", json={"title": "x"},
                        headers=world.headers("officer")).json()["error"]["code"] == "bulletin_wrong_status"

    approved = client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=world.headers("approver"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["approver_id"] == world.user("approver").id

    again = client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=world.headers("approver"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "bulletin_wrong_status"

    cancelled = client.post(f"{API}/bulletins/{bulletin_id}/cancel", json={"reason": "Hoãn tiêm"},
                            headers=world.headers("approver"))
    assert cancelled.json()["status"] == "cancelled"

    history = client.get(f"{API}/bulletins/{bulletin_id}/history", headers=world.headers("officer")).json()
    assert [event["action"] for event in history] == ["create", "edit", "submit", "approve", "cancel"]
    assert [event["actor_id"] for event in history] == [world.user("officer").id] * 3 + [world.user("approver").id] * 2
    assert history[-1]["details"]["reason"] == "Hoãn tiêm"


def test_reject_needs_a_reason_and_keeps_it(world: World) -> None:
    bulletin_id = world.bulletin(status=BulletinStatus.SUBMITTED)
    blank = world.client.post(f"{API}/bulletins/{bulletin_id}/reject", json={"reason": "   "},
                              headers=world.headers("approver"))
    assert blank.status_code == 422 and blank.json()["error"]["code"] == "reason_required"
    rejected = world.client.post(f"{API}/bulletins/{bulletin_id}/reject", json={"reason": "Sai ngày"},
                                 headers=world.headers("approver"))
    assert rejected.json()["status"] == "rejected" and rejected.json()["rejection_reason"] == "Sai ngày"


def test_officer_cannot_approve_or_cancel_someone_elses_draft(world: World) -> None:
    bulletin_id = world.bulletin(status=BulletinStatus.SUBMITTED)
    refused = world.client.post(f"{API}/bulletins/{bulletin_id}/approve", headers=world.headers("officer"))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_too_low"
    draft = world.bulletin(author="approver")
    not_author = world.client.post(f"{API}/bulletins/{draft}/cancel", headers=world.headers("officer"))
    assert not_author.status_code == 403 and not_author.json()["error"]["code"] == "not_author"


def test_list_filters_and_scope(world: World) -> None:
    mine = world.bulletin(title="Họp dân thôn A")
    world.bulletin(status=BulletinStatus.SUBMITTED, title="Thu thuế")
    other = world.bulletin("B", title="Họp dân xã B")
    listed = world.client.get(f"{API}/bulletins", headers=world.headers("officer")).json()
    assert listed["total"] == 2 and other not in [b["id"] for b in listed["items"]]
    drafts = world.client.get(f"{API}/bulletins", params={"status": "draft"}, headers=world.headers("officer"))
    assert [b["id"] for b in drafts.json()["items"]] == [mine]
    found = world.client.get(f"{API}/bulletins", params={"q": "họp dân"}, headers=world.headers("province"))
    assert sorted(b["id"] for b in found.json()["items"]) == sorted([mine, other])
    by_commune = world.client.get(f"{API}/bulletins", params={"commune_id": world.communes["B"].id},
                                  headers=world.headers("province"))
    assert [b["id"] for b in by_commune.json()["items"]] == [other]


def test_idempotency_key_returns_the_original_or_conflicts(world: World) -> None:
    body = {"title": "Mất điện", "text": "Chiều nay mất điện từ 14 giờ đến 16 giờ."}
    headers = {**world.headers("officer"), "Idempotency-Key": "mat-dien-2026-11-24"}
    first = world.client.post(f"{API}/bulletins", json=body, headers=headers)
    second = world.client.post(f"{API}/bulletins", json=body, headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json() == second.json()
    different = world.client.post(f"{API}/bulletins", json={**body, "text": "Khác hẳn."}, headers=headers)
    assert different.status_code == 409 and different.json()["error"]["code"] == "idempotency_key_reused"
    # The key belongs to its author: another user's same key is a new bulletin.
    other = world.client.post(f"{API}/bulletins", json=body,
                              headers={**world.headers("approver"), "Idempotency-Key": "mat-dien-2026-11-24"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    with world.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Bulletin)) == 2


def test_idempotent_recording_upload(world: World) -> None:
    files = {"file": ("thong-bao.wav", wav_bytes(0.4), "audio/wav")}
    form = {"title": "Thông báo tiếng Mông"}
    headers = {**world.headers("officer"), "Idempotency-Key": "ghi-am-1"}
    first = world.client.post(f"{API}/bulletins/recording", data=form, files=files, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["kind"] == "recording" and first.json()["upload_filename"] == "thong-bao.wav"
    assert first.json()["spoken_duration_s"] > 0.3
    second = world.client.post(f"{API}/bulletins/recording", data=form, files=files, headers=headers)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    other_audio = {"file": ("khac.wav", wav_bytes(0.4, frequency=600), "audio/wav")}
    conflict = world.client.post(f"{API}/bulletins/recording", data=form, files=other_audio, headers=headers)
    assert conflict.status_code == 409
    stored = world.settings.data_dir / "uploads" / first.json()["upload_sha256"]
    assert stored.read_bytes() == wav_bytes(0.4)


def test_html_is_stored_verbatim_and_served_as_json(world: World) -> None:
    text = 'Họp dân lúc 7 giờ <script>alert("x")</script> <b>đúng giờ</b> & "mang giấy tờ"'
    created = _create(world, title="<img src=x onerror=alert(1)> Họp dân", text=text)
    fetched = world.client.get(f"{API}/bulletins/{created['id']}", headers=world.headers("officer"))
    assert fetched.headers["content-type"] == "application/json"
    assert fetched.json()["text"] == text
    assert fetched.json()["title"] == "<img src=x onerror=alert(1)> Họp dân"
    with world.db.session() as session:
        assert session.get(Bulletin, created["id"]).text == text  # type: ignore[union-attr]


def test_every_change_is_audited_with_who(world: World) -> None:
    bulletin_id = world.bulletin(status=BulletinStatus.APPROVED)
    with world.db.session() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.object_type == "bulletin",
                                                          AuditEvent.object_id == bulletin_id)).all()
        assert [(e.action, e.actor_id) for e in events] == [
            ("create", world.user("officer").id), ("submit", world.user("officer").id),
            ("approve", world.user("approver").id),
        ]
        assert all(e.at.tzinfo is not None for e in events)
