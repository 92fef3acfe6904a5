"""The emergency path's own rules (services.programming.emergency) on a real database with real speech:
what "live" means, what a stop touches, when an accepted emergency is resumed, missed or given up, and
what the airing, its deliveries and the audit say each time."""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState

from broadcaster import faults
from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.db import Database, aware_utc
from broadcaster.errors import InvalidInput, NotFound
from broadcaster.models import (
    Airing,
    AiringKind,
    AiringStatus,
    Bulletin,
    BulletinStatus,
    Delivery,
    DeliveryOrder,
    DeliveryState,
    OrderStatus,
    Priority,
)
from broadcaster.node_identity import NodeIdentity, claim_node_identity
from broadcaster.services.delivery import DeliveryService
from broadcaster.services.handoff import ClusterProgramme, RecordingHandoff
from broadcaster.services.programming import ProgrammingService
from broadcaster.services.programming.emergency import (
    BulletinNotAirable,
    EmergencyBulletinNotFound,
    NoTargetClusters,
    accept_emergency,
    describe_emergency,
    is_live,
    latest_emergency_airing,
    live_emergency_bulletins,
    stop_emergency,
    withdraw_airing,
)
from broadcaster.speech import ProgrammePiece, SpeechService
from tests.fakes.handoff import FailingHandoff
from tests.scheduler.support import (
    add_bulletin,
    add_commune,
    airings,
    bulletin_status,
    events,
    make_settings,
    write_timetable,
)
from tests.services.support import programming_service

NOW = datetime.now(LOCAL_ZONE).replace(microsecond=0)
EVENING = NOW.replace(hour=17, minute=0, second=0)
FLOOD = "Nước lũ đang lên, bà con di chuyển lên chỗ cao."
WINDOW_S = 900.0
DELAY_S = 4.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, prompt_delay_s=DELAY_S, misfire_grace_s=WINDOW_S)
    write_timetable(settings.schedules_dir, [("evening", EVENING, 15)])
    return settings


def service(settings: Settings, db: Database, speech: SpeechService, handoff: RecordingHandoff, *,
            now: datetime = NOW, node: NodeIdentity | None = None) -> ProgrammingService:  # fmt: skip
    return programming_service(settings, db, speech, handoff, now, node=node)


def accepted(db: Database, bulletin_id: int, at: datetime) -> int:
    with db.session() as s:
        return accept_emergency(s, s.get_one(Bulletin, bulletin_id), at)


def delivery(state: DeliveryState = DeliveryState.SENT, *, played_at: datetime | None = None,
             duration_s: float = 10.0, expires_at: datetime = NOW + timedelta(minutes=15)) -> Delivery:  # fmt: skip
    return Delivery(airing_id=1, cluster_id=1, audio_sha256="ab" * 32, audio_size=1, duration_s=duration_s,
                    play_at=NOW, expires_at=expires_at, state=state, played_at=played_at)


def test_live_means_waiting_to_play_or_playing_now_until_its_expiry() -> None:
    for state in (DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.RECEIVED, DeliveryState.DOWNLOADED):
        assert is_live(delivery(state), NOW) is True
    for state in (DeliveryState.PLAYED, DeliveryState.CANCELLED, DeliveryState.FAILED, DeliveryState.MISSED):
        assert is_live(delivery(state), NOW) is False
    expiry = NOW + timedelta(minutes=15)
    assert is_live(delivery(expires_at=expiry), expiry - timedelta(seconds=1)) is True
    assert is_live(delivery(expires_at=expiry), expiry) is False  # the agent will not start it any more
    # Playing: live until the audio and the grace for its "played" report are over.
    end = NOW + timedelta(seconds=10 + 15)  # 10 s of audio, then 15 s for the "played" report to come
    assert is_live(delivery(played_at=NOW), end - timedelta(seconds=0.5)) is True
    assert is_live(delivery(played_at=NOW), end) is False
    assert is_live(delivery(played_at=NOW, duration_s=100.0), end) is True


def test_only_emergency_airings_still_planned_or_live_somewhere_count_as_live(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None)))
    planned = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    aired = add_bulletin(db, ids, "Cháy rừng ở đồi thông.", priority=Priority.EMERGENCY)
    normal = add_bulletin(db, ids, "Họp dân tối nay.")
    accepted(db, planned, NOW - timedelta(seconds=1))  # (two emergencies of a commune never share an instant)
    handoff = RecordingHandoff()
    service(settings, db, speech, handoff).air_emergency(aired)
    session = service(settings, db, speech, handoff, now=EVENING - timedelta(minutes=10)).run_session(
        ids["commune"], "evening", EVENING)
    assert session.airing_id is not None
    with db.session() as s:
        assert live_emergency_bulletins(s, [planned, aired, normal], NOW) == {planned, aired}
        later = NOW + timedelta(seconds=WINDOW_S + 60)  # the aired one's orders have expired unplayed
        assert live_emergency_bulletins(s, [planned, aired, normal], later) == {planned}
        assert live_emergency_bulletins(s, [aired], NOW) == {aired}
        # The session that reads the normal bulletin is waiting to play: it is no emergency airing.
        assert live_emergency_bulletins(s, [normal], EVENING - timedelta(minutes=5)) == set()


def test_accepting_writes_a_planned_emergency_airing_with_one_item_per_target_cluster(db: Database) -> None:
    ids = add_commune(db, zones=("Thôn Bãi",), clusters=(("Cụm bến", "Thôn Bãi"), ("Cụm chợ", None)))
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY, zones=("Thôn Bãi",))
    airing_id = accepted(db, bulletin, NOW)
    [airing] = airings(db)
    assert airing.id == airing_id
    assert (airing.kind, airing.session_name, airing.status, airing.max_duration_s) == (
        AiringKind.EMERGENCY, "emergency", AiringStatus.PLANNED, 0.0)
    assert airing.starts_at == NOW and airing.created_at == NOW and airing.composed_at is None
    assert [(i.bulletin_id, i.cluster_id, i.position) for i in airing.items] == [(bulletin, ids["Cụm bến"], 0)]
    nowhere = add_bulletin(db, ids, "Không có loa.", priority=Priority.EMERGENCY, clusters=())
    with db.session() as s:
        s.get_one(Bulletin, nowhere).target_all = False
    with pytest.raises(NoTargetClusters) as refused:
        accepted(db, nowhere, NOW)
    assert refused.value.code == "no_target_clusters"
    assert len(airings(db)) == 1


def test_a_bulletins_latest_emergency_airing_is_its_newest_emergency_one_never_a_session(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    emergency = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    normal = add_bulletin(db, ids, "Họp dân tối nay.")
    with db.session() as s:
        assert latest_emergency_airing(s, emergency) is None
    accepted(db, emergency, NOW - timedelta(seconds=2))
    newest = accepted(db, emergency, NOW)
    session = service(settings, db, speech, RecordingHandoff(), now=EVENING - timedelta(minutes=10)).run_session(
        ids["commune"], "evening", EVENING)
    assert session.airing_id is not None and session.airing_id > newest  # the newest airing of all is a session's
    with db.session() as s:
        assert latest_emergency_airing(s, emergency) == newest
        assert latest_emergency_airing(s, normal) is None


def test_airing_an_unknown_or_a_session_airing_is_not_found(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    add_bulletin(db, ids, "Họp dân tối nay.")
    programming = service(settings, db, speech, RecordingHandoff(), now=NOW.replace(hour=17, minute=0, second=0)
                          - timedelta(minutes=10))
    session_airing = programming.run_session(ids["commune"], "evening", NOW.replace(hour=17, minute=0, second=0))
    assert session_airing.airing_id is not None
    for airing_id in (session_airing.airing_id, 9999):
        with pytest.raises(NotFound) as missing:
            programming.air_accepted_emergency(airing_id)
        assert missing.value.code == "airing_not_found"
    with pytest.raises(NotFound):
        describe_emergency(db, 9999)
    with pytest.raises(EmergencyBulletinNotFound) as unknown:
        programming.air_emergency(9999)
    assert unknown.value.code == "bulletin_not_found"
    draft = add_bulletin(db, ids, "Chưa duyệt.", priority=Priority.EMERGENCY, status=BulletinStatus.SUBMITTED)
    with pytest.raises(BulletinNotAirable) as refused:
        programming.air_emergency(draft)
    assert refused.value.code == "bulletin_not_airable"


def test_an_aired_emergency_is_handed_off_with_its_start_validity_and_compose_event(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None)))
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW - timedelta(seconds=1))
    handoff = FailingHandoff([ids["Cụm 2"]])
    aired = service(settings, db, speech, handoff).air_accepted_emergency(airing_id, actor_id=ids["author"])

    [programme] = handoff.programmes
    assert programme.play_at >= NOW + timedelta(seconds=DELAY_S)
    assert programme.expires_at == programme.play_at + timedelta(seconds=WINDOW_S)
    chimed = speech.render_programme([ProgrammePiece(text=FLOOD)], chime=True)
    assert programme.audio.sha256 == chimed.sha256 == aired.audio_sha256
    assert (aired.airing_id, aired.status, aired.cluster_ids, aired.failed_cluster_ids) == (
        airing_id, "handed_off", (ids["Cụm 1"], ids["Cụm 2"]), (ids["Cụm 2"],))
    assert aired.play_at == programme.play_at and aired.duration_s == pytest.approx(chimed.duration_s, abs=0.01)
    [airing] = airings(db)
    assert airing.starts_at == programme.play_at and airing.note is None
    states = {d.cluster_id: (d.state, d.error) for d in airing.deliveries}
    assert states[ids["Cụm 1"]] == (DeliveryState.PENDING, None)
    assert states[ids["Cụm 2"]][0] == DeliveryState.FAILED and "Không chuyển được" in (states[ids["Cụm 2"]][1] or "")
    with db.session() as s:
        assert s.get_one(Bulletin, bulletin).status == BulletinStatus.AIRED
    [composed] = events(db, "compose")
    assert (composed.object_type, composed.object_id, composed.actor_id) == ("airing", airing_id, ids["author"])
    assert composed.details == {"bulletin_id": bulletin, "play_at": aired.play_at.isoformat(),
                                "clusters": [ids["Cụm 1"], ids["Cụm 2"]], "failed_clusters": [ids["Cụm 2"]],
                                "resumed": False, "priority": "emergency"}
    # Airing it again changes nothing: it is no longer planned.
    again = service(settings, db, speech, handoff).air_accepted_emergency(airing_id)
    assert again == aired and len(handoff.programmes) == 1


def test_an_emergency_is_missed_exactly_at_the_end_of_its_window(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW)
    with db.session() as s:
        s.execute(update(Airing).where(Airing.id == airing_id).values(note="Chưa phát được lúc trước."))
    handoff = RecordingHandoff()
    missed = service(settings, db, speech, handoff, now=NOW + timedelta(seconds=WINDOW_S)).air_accepted_emergency(
        airing_id)
    assert missed.status == "missed" and handoff.programmes == []
    [airing] = airings(db)
    assert airing.note == (f"Quá thời hạn phát khẩn (tới {local_text(NOW + timedelta(seconds=WINDOW_S))}) mà máy chủ "
                           "chưa phát được. Lần thử cuối: Chưa phát được lúc trước.")
    assert airing.composed_at is None and airing.claimed_by is None
    [event] = events(db, "missed")
    assert (event.object_type, event.object_id) == ("airing", airing_id)
    assert event.details == {"code": "emergency_window_over", "reason": airing.note, "kind": "emergency"}


def local_text(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%H:%M:%S %d/%m/%Y")


def test_an_emergency_just_inside_its_window_still_airs(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW)
    handoff = RecordingHandoff()
    aired = service(settings, db, speech, handoff, now=NOW + timedelta(seconds=WINDOW_S - 1)).air_accepted_emergency(
        airing_id)
    assert aired.status == "handed_off" and len(handoff.programmes) == 1


def test_giving_up_keeps_what_clusters_already_hold_and_ends_only_the_others(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None)))
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, datetime.now(LOCAL_ZONE))
    delivery_service = DeliveryService(settings, db, speech.cache)
    delivery_service.start()
    try:
        service(settings, db, speech, delivery_service, now=datetime.now(LOCAL_ZONE)).air_accepted_emergency(airing_id)
        with db.session() as s:  # the crash: cluster 2's order never committed, the airing was not marked
            s.delete(s.scalar(select(DeliveryOrder).where(DeliveryOrder.airing_id == airing_id,
                                                          DeliveryOrder.cluster_id == ids["Cụm 2"])))
            s.execute(update(Airing).where(Airing.id == airing_id).values(status=AiringStatus.PLANNED,
                                                                         composed_at=None, claimed_by=None))
            s.execute(update(Delivery).where(Delivery.airing_id == airing_id).values(state=DeliveryState.PENDING))
        late = datetime.now(LOCAL_ZONE) + timedelta(seconds=WINDOW_S + 5)
        service(settings, db, speech, delivery_service, now=late).air_accepted_emergency(airing_id)
    finally:
        delivery_service.close()
    [airing] = airings(db)
    assert airing.status == AiringStatus.HANDED_OFF
    assert (airing.note or "").endswith("Các cụm loa đã nhận lệnh trước đó vẫn phát.")
    states = {d.cluster_id: d.state for d in airing.deliveries}
    assert states == {ids["Cụm 1"]: DeliveryState.PENDING, ids["Cụm 2"]: DeliveryState.MISSED}


def test_the_resumer_leaves_a_just_accepted_emergency_to_its_request(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    fresh = accepted(db, bulletin, NOW - timedelta(seconds=1.5))  # the request has 2 s to air it itself
    handoff = RecordingHandoff()
    assert service(settings, db, speech, handoff).resume_emergencies() == []
    older = accepted(db, bulletin, NOW - timedelta(seconds=2))
    assert service(settings, db, speech, handoff).resume_emergencies() == [older]
    assert service(settings, db, speech, handoff, now=NOW + timedelta(seconds=1)).resume_emergencies() == [fresh]
    assert sorted(p.airing_id for p in handoff.programmes) == [fresh, older]


def test_another_nodes_claim_is_taken_over_only_once_it_is_stale(
    settings: Settings, db: Database, speech: SpeechService, tmp_path: Path
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW - timedelta(seconds=10))
    other = claim_node_identity(tmp_path / "other-node")
    ours = claim_node_identity(tmp_path / "our-node")
    try:
        claimed_at = NOW - timedelta(seconds=5)
        with db.session() as s:
            s.execute(update(Airing).where(Airing.id == airing_id).values(composed_at=claimed_at,
                                                                         claimed_by=other.holder_id()))
        handoff = RecordingHandoff()
        fresh_enough = claimed_at + timedelta(seconds=119)  # a claim is stale after 120 s
        assert service(settings, db, speech, handoff, now=fresh_enough, node=ours).resume_emergencies() == []
        # Asked directly (a retried request), it answers with the airing as it stands: planned, someone is on it.
        on_it = service(settings, db, speech, handoff, now=fresh_enough, node=ours).air_accepted_emergency(airing_id)
        assert (on_it.airing_id, on_it.status, on_it.play_at) == (airing_id, "planned", None)
        [airing] = airings(db)
        assert airing.claimed_by == other.holder_id()  # untouched
        stale = claimed_at + timedelta(seconds=120)
        assert service(settings, db, speech, handoff, now=stale, node=ours).resume_emergencies() == [airing_id]
        assert len(handoff.programmes) == 1
    finally:
        other.release()
        ours.release()


def test_a_stop_acts_where_the_emergency_still_waits_or_plays_and_keeps_what_played(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None), ("Cụm 3", None)))
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    handoff = RecordingHandoff()
    programming = service(settings, db, speech, handoff)
    aired = programming.air_emergency(bulletin)
    with db.session() as s:  # cluster 1 played it, cluster 2 is playing it, cluster 3 still waits
        rows = {d.cluster_id: d for d in s.scalars(select(Delivery).where(Delivery.airing_id == aired.airing_id))}
        rows[ids["Cụm 1"]].state, rows[ids["Cụm 1"]].played_at = DeliveryState.PLAYED, NOW
        rows[ids["Cụm 2"]].played_at = NOW
        s.execute(update(Airing).where(Airing.id == aired.airing_id).values(note="Ghi chú trước."))
    at = NOW + timedelta(seconds=8)
    assert stop_emergency(db, handoff, bulletin, at, actor_id=ids["author"]) == [aired.airing_id]
    assert handoff.stops == [(aired.airing_id, (ids["Cụm 2"], ids["Cụm 3"]))]
    [airing] = airings(db)
    assert airing.status == AiringStatus.HANDED_OFF  # it sounded: its history is kept
    assert airing.note == f"Ghi chú trước.; Dừng phát lúc {local_text(at)}."
    states = {d.cluster_id: d.state for d in airing.deliveries}
    assert states == {ids["Cụm 1"]: DeliveryState.PLAYED, ids["Cụm 2"]: DeliveryState.CANCELLED,
                      ids["Cụm 3"]: DeliveryState.CANCELLED}
    [stop] = events(db, "stop")
    assert (stop.object_type, stop.object_id, stop.actor_id) == ("airing", aired.airing_id, ids["author"])
    assert stop.details == {"bulletin_id": bulletin, "clusters": [ids["Cụm 2"], ids["Cụm 3"]]}
    assert stop_emergency(db, handoff, bulletin, at) == []  # nothing live any more


def test_a_stop_of_an_emergency_still_being_put_on_the_air_cancels_it_whole(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW)
    handoff = RecordingHandoff()
    assert stop_emergency(db, handoff, bulletin, NOW) == [airing_id]
    assert handoff.stops == []  # no cluster has it yet: cancelling is the stop
    [airing] = airings(db)
    assert airing.status == AiringStatus.CANCELLED and airing.note == f"Dừng phát lúc {local_text(NOW)}."
    # A resumer coming later finds nothing to air.
    assert service(settings, db, speech, handoff, now=NOW + timedelta(seconds=5)).resume_emergencies() == []
    assert handoff.programmes == []


def test_withdrawing_cancels_the_airing_unless_told_to_keep_its_status(db: Database) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None)))
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    first, second = accepted(db, bulletin, NOW), accepted(db, bulletin, NOW + timedelta(seconds=1))
    with db.session() as s:
        for airing_id in (first, second):
            s.execute(update(Airing).where(Airing.id == airing_id).values(status=AiringStatus.HANDED_OFF))
            for cluster in ("Cụm 1", "Cụm 2"):
                s.add(Delivery(airing_id=airing_id, cluster_id=ids[cluster], audio_sha256="ab" * 32, audio_size=1,
                               duration_s=5.0, play_at=NOW, expires_at=NOW + timedelta(minutes=5)))
    handoff = RecordingHandoff()
    withdraw_airing(db, handoff, first, ids["commune"], [ids["Cụm 1"]], note="Dừng.", details={})
    withdraw_airing(db, handoff, second, ids["commune"], [ids["Cụm 2"]], note="Dừng.", details={}, keep_status=True)
    assert handoff.stops == [(first, (ids["Cụm 1"],)), (second, (ids["Cụm 2"],))]
    with db.session() as s:
        status = {a.id: (a.status, a.note) for a in s.scalars(select(Airing))}
        states = {(d.airing_id, d.cluster_id): d.state for d in s.scalars(select(Delivery))}
    assert status == {first: (AiringStatus.CANCELLED, "Dừng."), second: (AiringStatus.HANDED_OFF, "Dừng.")}
    assert states == {(first, ids["Cụm 1"]): DeliveryState.CANCELLED, (first, ids["Cụm 2"]): DeliveryState.PENDING,
                      (second, ids["Cụm 1"]): DeliveryState.PENDING, (second, ids["Cụm 2"]): DeliveryState.CANCELLED}
    assert [e.details for e in events(db, "stop")] == [{"clusters": [ids["Cụm 1"]]}, {"clusters": [ids["Cụm 2"]]}]


def test_a_failure_on_our_side_releases_the_claim_with_the_reason_for_the_next_try(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW)

    class Unreachable(RecordingHandoff):
        """Delivery's own store is gone: the hand-off fails with an error that is not ours."""

        def hand_off_many(self, programmes, *, keep_issued=False):  # type: ignore[no-untyped-def]
            raise OSError("database gone")

    with pytest.raises(OSError):
        service(settings, db, speech, Unreachable()).air_accepted_emergency(airing_id)
    [airing] = airings(db)
    assert airing.status == AiringStatus.PLANNED and airing.composed_at is None and airing.claimed_by is None
    assert airing.note == (f"Chưa phát được lúc {local_text(NOW)}: OSError: database gone. "
                           f"Sẽ thử lại tới {local_text(NOW + timedelta(seconds=WINDOW_S))}.")
    handoff = RecordingHandoff()
    assert service(settings, db, speech, handoff, now=NOW + timedelta(seconds=3)).resume_emergencies() == [airing_id]
    assert len(handoff.programmes) == 1


def test_a_claim_of_this_process_is_left_to_it_and_one_of_a_dead_life_of_this_node_is_taken_back_at_once(
    settings: Settings, db: Database, speech: SpeechService, tmp_path: Path
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    ours = claim_node_identity(tmp_path / "our-node")
    try:
        handoff = RecordingHandoff()
        programming = service(settings, db, speech, handoff, node=ours)
        busy, dead = accepted(db, bulletin, NOW - timedelta(seconds=10)), accepted(db, bulletin, NOW - timedelta(seconds=9))
        with db.session() as s:  # one being rendered by this very process, one by our node's killed previous life
            s.execute(update(Airing).where(Airing.id == busy).values(composed_at=NOW, claimed_by=programming.holder))
            s.execute(update(Airing).where(Airing.id == dead).values(composed_at=NOW,
                                                                     claimed_by=f"host:4242:{ours.node_id}"))
        assert programming.resume_emergencies() == [dead]
        assert [p.airing_id for p in handoff.programmes] == [dead]
    finally:
        ours.release()


def test_an_emergency_whose_bulletin_was_cancelled_before_it_aired_does_not_air(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW)
    with db.session() as s:
        s.get_one(Bulletin, bulletin).status = BulletinStatus.CANCELLED
    handoff = RecordingHandoff()
    with pytest.raises(BulletinNotAirable):
        service(settings, db, speech, handoff).air_accepted_emergency(airing_id)
    assert handoff.programmes == []
    [airing] = airings(db)
    assert airing.status == AiringStatus.PLANNED and airing.composed_at is None and "không còn được duyệt" in (
        airing.note or "")


def test_an_emergency_that_can_never_air_fails_with_the_reason_and_is_not_retried(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None)))
    gone = add_bulletin(db, ids, "", priority=Priority.EMERGENCY, upload_sha256="ab" * 32)  # no such recording
    airing_id = accepted(db, gone, NOW)
    handoff = RecordingHandoff()
    with pytest.raises(InvalidInput):
        service(settings, db, speech, handoff).air_accepted_emergency(airing_id)
    [airing] = airings(db)
    assert airing.status == AiringStatus.FAILED and "ghi âm" in (airing.note or "")
    [failed] = events(db, "failed")
    assert (failed.object_type, failed.object_id) == ("airing", airing_id)
    assert failed.details["kind"] == "emergency" and failed.details["reason"] == airing.note
    assert service(settings, db, speech, handoff, now=NOW + timedelta(seconds=5)).resume_emergencies() == []
    assert handoff.programmes == []


def test_a_resumed_emergency_hands_the_recorded_programme_again_and_says_it_resumed(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None)))
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW)
    first = RecordingHandoff()
    aired = service(settings, db, speech, first).air_accepted_emergency(airing_id)
    with db.session() as s:  # the process died after recording the deliveries, before any order committed
        s.execute(update(Airing).where(Airing.id == airing_id).values(status=AiringStatus.PLANNED, composed_at=None,
                                                                     claimed_by=None))  # its claim released
        s.execute(update(Bulletin).where(Bulletin.id == bulletin).values(status=BulletinStatus.APPROVED))
    again = RecordingHandoff()
    resumed = service(settings, db, speech, again, now=NOW + timedelta(seconds=1)).air_accepted_emergency(airing_id)
    assert sorted(p.cluster_id for p in again.programmes) == [ids["Cụm 1"], ids["Cụm 2"]]
    assert {(p.audio.sha256, p.play_at) for p in again.programmes} == {(aired.audio_sha256, aired.play_at)}
    assert resumed.status == "handed_off" and resumed.note == (
        "Tiếp tục phát sau khi máy chủ khởi động lại; cụm loa đã nhận lệnh không nhận lại.")
    assert [e.details["resumed"] for e in events(db, "compose")] == [False, True]
    with db.session() as s:
        assert s.get_one(Bulletin, bulletin).status == BulletinStatus.AIRED


def test_an_emergency_stopped_while_it_was_being_rendered_sends_nothing_and_says_cancelled(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW)
    handoff = RecordingHandoff()
    stopped: list[int] = []

    def meanwhile(state: ORMExecuteState) -> None:
        # Rendered, about to record the deliveries: a leader presses stop (another request, another session).
        if state.is_insert and state.bind_mapper is not None and state.bind_mapper.class_ is Delivery and not stopped:
            stopped.extend(stop_emergency(db, handoff, bulletin, NOW))

    event.listen(db.session_factory, "do_orm_execute", meanwhile)
    try:
        answer = service(settings, db, speech, handoff).air_accepted_emergency(airing_id)
    finally:
        event.remove(db.session_factory, "do_orm_execute", meanwhile)
    assert stopped == [airing_id]
    assert (answer.airing_id, answer.status) == (airing_id, "cancelled")
    assert handoff.programmes == [] and handoff.stops == []


def test_the_fan_out_crash_point_falls_after_the_hand_off_and_before_the_airing_is_marked(
    settings: Settings, db: Database, speech: SpeechService, tmp_path: Path
) -> None:
    # The fault-injection suite kills a server there (``fan_out``); what it proves rests on where it is.
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW)
    record = tmp_path / "handoff.jsonl"
    pid = os.fork()
    if pid == 0:  # the child: a server process armed to die at ``fan_out``
        code = 3
        try:
            db.engine.dispose(close=False)  # never share the parent's connections
            os.environ[faults.ENV] = "fan_out"
            faults._plan = None  # read again, as a new process would (the parent has read it unarmed)
            service(settings, db, speech, RecordingHandoff(record)).air_accepted_emergency(airing_id)
            code = 0  # the crash point never fired
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child ended with {status}"
    handed = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert [(h["event"], h["airing_id"], h["cluster_id"]) for h in handed] == [("hand_off", airing_id, ids["Cụm 1"])]
    [airing] = airings(db)
    assert airing.status == AiringStatus.PLANNED and airing.composed_at is not None  # handed off, not marked
    assert bulletin_status(db, bulletin) == BulletinStatus.APPROVED and events(db, "compose") == []
    # Unarmed (this process), the crash point is one look-up: another emergency is handed off and marked.
    fire = accepted(db, add_bulletin(db, ids, "Cháy rừng ở đồi thông.", priority=Priority.EMERGENCY),
                    NOW + timedelta(seconds=1))
    aired = service(settings, db, speech, RecordingHandoff(), now=NOW + timedelta(seconds=1)).air_accepted_emergency(fire)
    assert aired.status == "handed_off"


def test_a_resumed_emergency_never_replaces_an_order_another_process_issued_meanwhile(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None)))
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin, NOW)
    service(settings, db, speech, RecordingHandoff()).air_accepted_emergency(airing_id)
    with db.session() as s:  # the process died after recording the deliveries, before any order committed
        s.execute(update(Airing).where(Airing.id == airing_id).values(status=AiringStatus.PLANNED,
                                                                     composed_at=None, claimed_by=None))
    [row] = [d for d in airings(db)[0].deliveries if d.cluster_id == ids["Cụm 1"]]
    audio = speech.stored_audio(row.audio_sha256)
    assert audio is not None
    theirs = NOW + timedelta(seconds=30)  # another process's hand-off to cluster 1, with its own start
    delivery_service = DeliveryService(settings, db, speech.cache)
    delivery_service.start()
    issued: list[dict[int, str]] = []

    def meanwhile(state: ORMExecuteState) -> None:
        # Our resumer has chosen its programmes: the other process's order for cluster 1 commits first.
        if state.is_update and state.bind_mapper is not None and state.bind_mapper.class_ is Delivery and not issued:
            issued.append(delivery_service.hand_off_many([ClusterProgramme(
                airing_id, ids["Cụm 1"], audio, theirs, theirs + timedelta(seconds=WINDOW_S), Priority.EMERGENCY)]))

    event.listen(db.session_factory, "do_orm_execute", meanwhile)
    try:
        late = NOW + timedelta(seconds=60)  # the recorded start has passed: ours would start at another time
        service(settings, db, speech, delivery_service, now=late).air_accepted_emergency(airing_id)
    finally:
        event.remove(db.session_factory, "do_orm_execute", meanwhile)
        delivery_service.close()
    assert issued == [{}]
    with db.session() as s:
        orders = {(o.cluster_id, o.status, o.play_at) for o in s.scalars(select(DeliveryOrder).where(
            DeliveryOrder.airing_id == airing_id, DeliveryOrder.kind == "play"))}
    # Cluster 1 keeps the order it holds (replacing it could make it play twice); cluster 2 gets ours.
    assert {(c, status) for c, status, _ in orders} == {(ids["Cụm 1"], OrderStatus.QUEUED),
                                                        (ids["Cụm 2"], OrderStatus.QUEUED)}
    [kept] = [aware_utc(play_at) for c, _, play_at in orders if c == ids["Cụm 1"]]
    assert kept == theirs
