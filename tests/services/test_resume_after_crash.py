"""Emergencies are durable once accepted: resumed by their owner after a crash, or ended with a reason.

A "crash" here leaves exactly what a SIGKILL leaves in the database (the committed intent, a
claim by a process that is gone, orders for some clusters only); the real kills are in
tests/faults. The audio and the database are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from broadcaster.clock import LOCAL_ZONE, FixedClock
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import (
    Airing,
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
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.services.programming import ProgrammingService, accept_emergency
from broadcaster.speech import SpeechService
from broadcaster.timetable import load_timetables
from tests.fakes.small_disk import fill, small_disk
from tests.scheduler.support import add_bulletin, add_commune, airings, events, make_settings, write_timetable

NOW = datetime.now(LOCAL_ZONE).replace(microsecond=0)
FLOOD = "Nước lũ đang lên, bà con di chuyển lên chỗ cao."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, prompt_delay_s=4.0, misfire_grace_s=900.0)
    write_timetable(settings.schedules_dir, [("evening", NOW.replace(hour=17, minute=0, second=0), 15)])
    return settings


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeIdentity]:
    identity = claim_node_identity(tmp_path / "node")
    yield identity
    identity.release()


def service(settings: Settings, db: Database, speech: SpeechService, handoff: object, *, now: datetime = NOW,
            node: NodeIdentity | None = None) -> ProgrammingService:
    """A programming service as one process runs it (its clock fixed at ``now``)."""
    return ProgrammingService(settings, db, speech, handoff, load_timetables(settings.schedules_dir),  # type: ignore[arg-type]
                              FixedClock(now), node=node)


def accepted(db: Database, bulletin_id: int, at: datetime = NOW - timedelta(seconds=10)) -> int:
    """What the approval commits for an emergency: its airing intent (then the process dies)."""
    with db.session() as s:
        return accept_emergency(s, s.get_one(Bulletin, bulletin_id), at)


def test_an_emergency_accepted_before_a_crash_is_resumed_and_a_retry_sees_the_real_airing(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm bến", None), ("Cụm chợ", None)))
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin)
    handoff = RecordingHandoff()
    restarted = service(settings, db, speech, handoff)

    assert restarted.resume_emergencies() == [airing_id]

    assert sorted(p.cluster_id for p in handoff.programmes) == [ids["Cụm bến"], ids["Cụm chợ"]]
    assert {p.priority for p in handoff.programmes} == {Priority.EMERGENCY}
    [airing] = airings(db)
    assert airing.status == AiringStatus.HANDED_OFF
    retry = restarted.emergency_airing(bulletin)
    assert retry is not None and retry.status == "handed_off" and retry.play_at == handoff.programmes[0].play_at
    assert restarted.resume_emergencies() == []  # nothing twice
    assert len(handoff.programmes) == 2


def test_a_claim_of_a_dead_life_of_this_node_is_taken_back_at_once_another_nodes_only_when_stale(
    settings: Settings, db: Database, speech: SpeechService, node: NodeIdentity, tmp_path: Path
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    ours, theirs = accepted(db, bulletin), accepted(db, bulletin, NOW - timedelta(seconds=9))
    other_node = claim_node_identity(tmp_path / "other-node")
    with db.session() as s:  # both were being rendered when their processes were killed
        # (At the services' fixed clock: on a busy machine the wall clock may be minutes past it.)
        s.execute(update(Airing).where(Airing.id == ours).values(composed_at=NOW,
                                                                 claimed_by=f"host:4242:{node.node_id}"))
        s.execute(update(Airing).where(Airing.id == theirs).values(composed_at=NOW,
                                                                   claimed_by=other_node.holder_id()))
    handoff = RecordingHandoff()

    assert service(settings, db, speech, handoff, node=node).resume_emergencies() == [ours]
    later = NOW + timedelta(minutes=3)  # the other node said nothing for 3 minutes
    assert service(settings, db, speech, handoff, node=node, now=later).resume_emergencies() == [theirs]
    assert sorted(p.airing_id for p in handoff.programmes) == [ours, theirs]
    other_node.release()


def test_an_emergency_past_its_window_is_missed_with_the_reason_in_the_log_and_the_audit(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    # The server was down 16 minutes (counted from the service's fixed clock, which a busy machine may
    # reach this test minutes after: counted from the wall clock, the window could still be open).
    airing_id = accepted(db, bulletin, NOW - timedelta(seconds=1000))
    handoff = RecordingHandoff()

    assert service(settings, db, speech, handoff).resume_emergencies() == [airing_id]

    assert handoff.programmes == []
    [airing] = airings(db)
    assert airing.status == AiringStatus.MISSED and "Quá thời hạn phát khẩn" in (airing.note or "")
    [missed] = events(db, "missed")
    assert missed.object_id == airing_id and missed.details["code"] == "emergency_window_over"


def test_an_emergency_whose_recording_is_gone_fails_with_the_reason(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, "", priority=Priority.EMERGENCY, upload_sha256="ab" * 32)  # no such file
    airing_id = accepted(db, bulletin)

    service(settings, db, speech, RecordingHandoff()).resume_emergencies()

    [airing] = airings(db)
    assert airing.status == AiringStatus.FAILED and "ghi âm" in (airing.note or "")
    assert [e.object_id for e in events(db, "failed")] == [airing_id]


def test_an_emergency_that_cannot_render_on_a_full_disk_stays_accepted_and_airs_once_there_is_room(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, "Bão số 3 sắp đổ bộ, bà con chằng chống nhà cửa.", priority=Priority.EMERGENCY)
    airing_id = accepted(db, bulletin)
    handoff = RecordingHandoff()
    with small_disk(tmp_path / "cache-disk", size_mb=4) as disk:
        speech = SpeechService(make_settings(tmp_path / "speech", cache_dir=disk / "cache"))
        filler = fill(disk)
        assert service(settings, db, speech, handoff).resume_emergencies() == []
        [airing] = airings(db)
        assert airing.status == AiringStatus.PLANNED and airing.composed_at is None  # released, to be retried
        assert "Sẽ thử lại" in (airing.note or "")
        filler.unlink()
        assert service(settings, db, speech, handoff).resume_emergencies() == [airing_id]
    assert len(handoff.programmes) == 1
    with db.session() as s:
        assert s.get_one(Bulletin, bulletin).status == BulletinStatus.AIRED


def test_a_fan_out_cut_short_hands_the_rest_the_same_programme_and_never_replaces_an_issued_order(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None), ("Cụm 3", None)))
    bulletin = add_bulletin(db, ids, FLOOD, priority=Priority.EMERGENCY)
    # Accepted by the wall clock the services below run on (not the module's NOW, maybe minutes ago).
    airing_id = accepted(db, bulletin, datetime.now(LOCAL_ZONE) - timedelta(seconds=10))
    delivery = DeliveryService(settings, db, speech.cache)
    delivery.start()
    try:
        started = datetime.now(LOCAL_ZONE)
        first = service(settings, db, speech, delivery, now=started)
        first.resume_emergencies()
        with db.session() as s:
            orders = {o.cluster_id: o for o in s.scalars(select(DeliveryOrder).where(
                DeliveryOrder.airing_id == airing_id))}  # fmt: skip
            # The crash: the orders of clusters 2 and 3 never committed, the airing was not marked.
            for cluster in ("Cụm 2", "Cụm 3"):
                s.delete(orders.pop(ids[cluster]))
            s.execute(update(Airing).where(Airing.id == airing_id).values(status=AiringStatus.PLANNED,
                                                                         composed_at=None, claimed_by=None))
            planned = {d.cluster_id: (d.audio_sha256, d.play_at) for d in s.scalars(
                select(Delivery).where(Delivery.airing_id == airing_id))}  # fmt: skip
        kept = orders[ids["Cụm 1"]]

        # The restart a second later, by the services' clock (a busy machine's wall clock may be far on).
        service(settings, db, speech, delivery, now=started + timedelta(seconds=1)).resume_emergencies()

        with db.session() as s:
            after = {o.cluster_id: o for o in s.scalars(select(DeliveryOrder).where(
                DeliveryOrder.airing_id == airing_id))}  # fmt: skip
            rows = {d.cluster_id: d for d in s.scalars(select(Delivery).where(Delivery.airing_id == airing_id))}
        assert set(after) == {ids["Cụm 1"], ids["Cụm 2"], ids["Cụm 3"]}
        assert after[ids["Cụm 1"]].order_id == kept.order_id and after[ids["Cụm 1"]].seq == kept.seq  # untouched
        assert not [o for o in after.values() if o.kind == "stop" or o.status is OrderStatus.CANCELLED]
        for cluster_id, order in after.items():  # every cluster: the same audio, the same start
            assert (order.audio_sha256, order.play_at) == planned[cluster_id]
            assert rows[cluster_id].state is DeliveryState.PENDING or rows[cluster_id].state is DeliveryState.SENT
        [airing] = airings(db)
        assert airing.status == AiringStatus.HANDED_OFF
    finally:
        delivery.close()


def test_a_session_killed_during_fan_out_is_finished_from_the_outbox_not_composed_again(
    tmp_path: Path, speech: SpeechService
) -> None:
    starts_at = (datetime.now(LOCAL_ZONE) + timedelta(minutes=5)).replace(microsecond=0)
    settings = make_settings(tmp_path, misfire_grace_s=900.0)
    write_timetable(settings.schedules_dir, [("sang", starts_at, 15)])
    db = Database(settings.effective_database_url)
    db.upgrade()
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None)))
    add_bulletin(db, ids, "Sáng mai tiêm phòng cho trẻ em tại trạm y tế xã.")
    delivery = DeliveryService(settings, db, speech.cache)
    delivery.start()
    try:
        first = service(settings, db, speech, delivery, now=datetime.now(LOCAL_ZONE))
        airing_id = first.run_session(ids["commune"], "sang", starts_at).airing_id
        with db.session() as s:  # the kill: cluster 2's order never committed, the airing never marked
            s.delete(s.scalar(select(DeliveryOrder).where(DeliveryOrder.cluster_id == ids["Cụm 2"])))
            s.execute(update(Airing).where(Airing.id == airing_id).values(status=AiringStatus.PLANNED))
            [kept] = s.scalars(select(DeliveryOrder).where(DeliveryOrder.airing_id == airing_id)).all()
            planned = s.scalar(select(Delivery).where(Delivery.cluster_id == ids["Cụm 2"]))
            assert planned is not None
        restarted = service(settings, db, speech, delivery, now=datetime.now(LOCAL_ZONE))
        assert restarted.release_stale_claims() == 1  # what a new leader does first

        result = restarted.run_session(ids["commune"], "sang", starts_at)

        assert result.status == AiringStatus.HANDED_OFF and "không soạn lại" in (result.note or "")
        with db.session() as s:
            orders = {o.cluster_id: o for o in s.scalars(select(DeliveryOrder).where(
                DeliveryOrder.airing_id == airing_id))}  # fmt: skip
        assert orders[ids["Cụm 1"]].order_id == kept.order_id  # left alone: no stop, no new order
        assert (orders[ids["Cụm 2"]].audio_sha256, orders[ids["Cụm 2"]].play_at) == (planned.audio_sha256,
                                                                                   planned.play_at)
        assert orders[ids["Cụm 2"]].play_at == starts_at == orders[ids["Cụm 1"]].play_at
        assert [e.details.get("resumed_from_outbox") for e in events(db, "compose")] == [None, True]
    finally:
        delivery.close()
        db.dispose()


def test_a_session_late_because_the_cache_disk_was_full_says_so_not_that_the_server_was_down(
    tmp_path: Path
) -> None:
    starts_at = (datetime.now(LOCAL_ZONE) + timedelta(minutes=10)).replace(microsecond=0)
    settings = make_settings(tmp_path, misfire_grace_s=900.0, prompt_delay_s=5.0)
    write_timetable(settings.schedules_dir, [("chieu", starts_at, 15)])
    db = Database(settings.effective_database_url)
    db.upgrade()
    ids = add_commune(db)
    add_bulletin(db, ids, "Chiều nay họp dân bàn việc làm đường liên thôn.")
    handoff = RecordingHandoff()
    with small_disk(tmp_path / "cache-disk", size_mb=4) as disk:
        speech = SpeechService(make_settings(tmp_path / "speech", cache_dir=disk / "cache"))
        filler = fill(disk)
        failed = service(settings, db, speech, handoff, now=starts_at - timedelta(minutes=10)).run_session(
            ids["commune"], "chieu", starts_at)
        assert failed.retry and failed.status == AiringStatus.PLANNED
        filler.unlink()
        late = service(settings, db, speech, handoff, now=starts_at + timedelta(minutes=2)).run_session(
            ids["commune"], "chieu", starts_at)
    db.dispose()
    assert late.status == AiringStatus.AIRED_LATE
    assert "lần soạn trước bị lỗi" in (late.note or "") and "không hoạt động" not in (late.note or "")
