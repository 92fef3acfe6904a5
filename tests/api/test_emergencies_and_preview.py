"""Emergencies (air at once, pre-empting; stop with a cancel) and preview audio, through the real services."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from broadcaster.audio.codec import decode_audio
from broadcaster.clock import SystemClock
from broadcaster.models import Airing, AiringKind, AuditEvent, Bulletin, BulletinStatus, Priority
from tests.api.world import World, wav_bytes

API = "/api/v1"
EMERGENCY = {"title": "Khẩn: cháy rừng", "text": "Cháy rừng ở đồi thông, bà con không vào rừng.", "repeat": 1}


def test_an_emergency_airs_at_once_with_emergency_priority(world: World) -> None:
    before = SystemClock().now()
    response = world.client.post(f"{API}/emergencies", json=EMERGENCY, headers=world.headers("approver"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["bulletin"]["status"] == "aired" and body["bulletin"]["approver_id"] == world.user("approver").id
    [programme] = world.handoff.programmes
    assert programme.cluster_id == world.communes["A"].cluster_id
    assert programme.priority == Priority.EMERGENCY
    # "At once": a few seconds from now (time for agents to fetch the audio), not at the next session.
    assert before < programme.play_at < before + timedelta(seconds=60)
    assert decode_audio(programme.audio.path).duration_s > 1.0
    with world.db.session() as session:
        airing = session.get(Airing, body["airing"]["airing_id"])
        assert airing is not None and airing.kind == AiringKind.EMERGENCY
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.object_type == "bulletin", AuditEvent.object_id == body["bulletin"]["id"])).all()
        assert list(actions)[:2] == ["create", "emergency"]


def test_a_repeated_emergency_request_airs_once(world: World) -> None:
    headers = {**world.headers("approver"), "Idempotency-Key": "chay-rung-1"}
    first = world.client.post(f"{API}/emergencies", json=EMERGENCY, headers=headers)
    second = world.client.post(f"{API}/emergencies", json=EMERGENCY, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["bulletin"]["id"] == first.json()["bulletin"]["id"]
    assert len(world.handoff.programmes) == 1
    # The retry answers with the real airing, never "nothing": the officer sees it went out.
    assert second.json()["airing"] == first.json()["airing"]
    assert first.json()["airing"]["status"] == "handed_off" and first.json()["airing"]["play_at"]


def test_cancelling_an_emergency_stops_it_on_the_speakers(world: World) -> None:
    sent = world.client.post(f"{API}/emergencies", json=EMERGENCY, headers=world.headers("approver")).json()
    response = world.client.post(f"{API}/bulletins/{sent['bulletin']['id']}/cancel", json={"reason": "Đã dập lửa"},
                                 headers=world.headers("approver"))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert world.handoff.stops == [(sent["airing"]["airing_id"], (world.communes["A"].cluster_id,))]
    history = world.client.get(f"{API}/bulletins/{sent['bulletin']['id']}/history",
                               headers=world.headers("officer")).json()
    assert "emergency_stop" in [event["action"] for event in history]


def test_an_officers_emergency_airs_when_approved(world: World) -> None:
    draft = world.client.post(f"{API}/bulletins", json={**EMERGENCY, "priority": "emergency"},
                              headers=world.headers("officer")).json()
    world.client.post(f"{API}/bulletins/{draft['id']}/submit", headers=world.headers("officer"))
    assert world.handoff.programmes == []
    approved = world.client.post(f"{API}/bulletins/{draft['id']}/approve", headers=world.headers("approver"))
    assert approved.json()["status"] == "aired"
    assert [p.priority for p in world.handoff.programmes] == [Priority.EMERGENCY]


def test_an_emergency_with_nowhere_to_air_is_refused_and_not_stored(world: World) -> None:
    zone = world.client.post(f"{API}/communes/{world.communes['A'].id}/zones", json={"name": "Thôn chưa có loa"},
                             headers=world.headers("admin")).json()
    response = world.client.post(f"{API}/emergencies", json={**EMERGENCY, "zone_ids": [zone["id"]]},
                                 headers=world.headers("approver"))
    assert response.status_code == 409 and response.json()["error"]["code"] == "no_target_clusters"
    with world.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Bulletin)) == 0
    assert world.handoff.programmes == []


def test_an_emergency_recording(world: World) -> None:
    response = world.client.post(f"{API}/emergencies/recording", data={"title": "Khẩn (tiếng Mông)"},
                                 files={"file": ("khan.wav", wav_bytes(1.0), "audio/wav")},
                                 headers=world.headers("approver"))
    assert response.status_code == 201, response.text
    assert response.json()["bulletin"]["kind"] == "recording"
    assert [p.priority for p in world.handoff.programmes] == [Priority.EMERGENCY]


def test_preview_of_a_text_bulletin_is_cached_audio(world: World) -> None:
    bulletin_id = world.bulletin(text="Thông báo: chiều nay 15 giờ họp dân tại nhà văn hóa thôn.")
    first = world.client.get(f"{API}/bulletins/{bulletin_id}/preview", headers=world.headers("officer"))
    assert first.status_code == 200 and first.headers["content-type"] == "audio/mpeg"
    assert decode_audio(first.content).duration_s > 2.0
    second = world.client.get(f"{API}/bulletins/{bulletin_id}/preview", headers=world.headers("approver"))
    assert second.headers["etag"] == first.headers["etag"] and second.content == first.content


def test_preview_of_a_recording_plays_the_recording(world: World) -> None:
    created = world.client.post(f"{API}/bulletins/recording", data={"title": "Ghi âm"},
                                files={"file": ("a.wav", wav_bytes(1.5), "audio/wav")}, headers=world.headers())
    preview = world.client.get(f"{API}/bulletins/{created.json()['id']}/preview", headers=world.headers())
    assert preview.status_code == 200
    assert abs(decode_audio(preview.content).duration_s - 1.5) < 0.5


def test_preview_changes_nothing_stored(world: World) -> None:
    bulletin_id = world.bulletin(status=BulletinStatus.SUBMITTED)
    world.client.get(f"{API}/bulletins/{bulletin_id}/preview", headers=world.headers())
    with world.db.session() as session:
        bulletin = session.get(Bulletin, bulletin_id)
        assert bulletin is not None and bulletin.status == BulletinStatus.SUBMITTED
