"""The workflow's own rules on a real database, with the real programming service and real speech.

What staff are told must be true: a cancel whose stop or recall did not reach the speakers is an
error, not a quiet success; an emergency goes only where its commune has speakers; the window's
last day still counts, the day after does not.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState

from broadcaster import faults
from broadcaster.clock import LOCAL_ZONE, FixedClock
from broadcaster.config import Settings
from broadcaster.db import Database, utc_now
from broadcaster.models import (
    AiringKind,
    AiringStatus,
    Bulletin,
    BulletinStatus,
    Cluster,
    Priority,
    ProvinceBulletin,
    Role,
    User,
)
from broadcaster.services.bulletins import (
    BulletinFields,
    BulletinService,
    BulletinWrongStatus,
    NotAuthor,
    ProvinceCopyReadOnly,
    WindowInPast,
)
from broadcaster.services.four_eyes import FourEyesRequired
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.services.scoping import RoleTooLow
from broadcaster.services.workflow import (
    REASON_MAX_LENGTH,
    AiringWindowOver,
    EmergencyAiringFailed,
    EmergencyFinished,
    NoTargetClusters,
    ReasonRequired,
    RecallFailed,
    Workflow,
    check_reaches_clusters,
)
from broadcaster.speech import SpeechService
from broadcaster.uploads import UploadStore
from tests.fakes.handoff import DeliveryDown
from tests.scheduler.support import (
    add_bulletin,
    add_commune,
    airings,
    bulletin_status,
    events,
    make_settings,
    write_timetable,
)
from tests.services.support import add_officer, programming_service

TODAY = datetime.now(LOCAL_ZONE).date()
SESSION = datetime.combine(TODAY, time(17, 0), LOCAL_ZONE)
LATER = SESSION + timedelta(hours=3)
NOON = datetime.combine(TODAY, time(12, 0), LOCAL_ZONE)


class StopRefusingHandoff(RecordingHandoff):
    """Records programmes; refuses to stop the chosen airings (delivery unreachable), records the other stops."""

    def __init__(self, refused: Iterable[int] | None = None) -> None:
        super().__init__()
        self.refused = None if refused is None else set(refused)

    def stop(self, airing_id: int, cluster_ids: Any) -> None:
        """Raise for a refused airing (every airing if none were chosen), else record."""
        if self.refused is None or airing_id in self.refused:
            raise DeliveryDown("Không gửi được lệnh dừng tới cụm loa.", detail=f"airing {airing_id}")
        super().stop(airing_id, cluster_ids)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, misfire_grace_s=600.0, prompt_delay_s=5.0)
    write_timetable(settings.schedules_dir, [("evening", SESSION, 2.0), ("night", LATER, 2.0)])
    return settings


def act(settings: Settings, db: Database, speech: SpeechService, at: datetime, user_id: int,
        action: Callable[[Workflow, User], Any], *, handoff: RecordingHandoff | None = None,
        recall: bool = False) -> Any:  # fmt: skip
    """Run ``action`` on a workflow whose clock reads ``at``, wired as the runtime wires it."""
    uploads = UploadStore(settings.data_dir / "uploads", max_bytes=1024 * 1024, max_duration_s=60)
    handoff = handoff or RecordingHandoff()
    programming = programming_service(settings, db, speech, handoff, at)
    # A session like the API's request session: what the workflow does not commit itself is rolled back.
    session = db.session_factory()
    try:
        workflow = Workflow(BulletinService(session, clock=FixedClock(at), uploads=uploads),
                            programming=lambda: programming,
                            on_recall=(lambda airing, clusters, actor: programming.recompose_airing(
                                airing, clusters, actor_id=actor)) if recall else None)
        return action(workflow, session.get_one(User, user_id))
    finally:
        session.close()


def test_an_emergency_stop_that_does_not_reach_the_speakers_is_an_error_and_the_cancel_stays(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    handoff = StopRefusingHandoff()
    fields = BulletinFields(title="Khẩn: lũ", text="Nước lũ lên nhanh, bà con sơ tán ngay.")
    sent = act(settings, db, speech, NOON, ids["author"], lambda w, u: w.send_emergency(u, fields), handoff=handoff)
    assert [p.cluster_id for p in handoff.programmes] == [ids["Cụm 1"]]

    with pytest.raises(EmergencyAiringFailed) as failed:
        act(settings, db, speech, NOON + timedelta(seconds=2), ids["author"],
            lambda w, u: w.cancel(u, sent.bulletin.id, "Nhầm"), handoff=handoff)

    # Staff are told the speakers did not stop; the cancellation itself is stored and on the record.
    assert failed.value.code == "emergency_airing_failed" and "chưa dừng được trên loa" in failed.value.message
    assert failed.value.detail == f"airing {sent.airing.airing_id}"
    assert bulletin_status(db, sent.bulletin.id) == BulletinStatus.CANCELLED
    assert [e.object_id for e in events(db, "emergency_stop")] == [sent.bulletin.id]
    assert handoff.stops == []


def test_a_recall_that_fails_is_an_error_and_the_other_airings_are_still_recalled(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, "Sáng mai tiêm phòng cho trẻ em.")
    composer = RecordingHandoff()
    evening = programming_service(settings, db, speech, composer, SESSION - timedelta(minutes=10)).run_session(
        ids["commune"], "evening", SESSION).airing_id
    night = programming_service(settings, db, speech, composer, LATER - timedelta(minutes=10)).run_session(
        ids["commune"], "night", LATER).airing_id
    assert evening is not None and night is not None and len(composer.programmes) == 2
    handoff = StopRefusingHandoff(refused=[evening])

    with pytest.raises(RecallFailed) as failed:
        act(settings, db, speech, SESSION - timedelta(minutes=5), ids["author"],
            lambda w, u: w.cancel(u, bulletin, "Hoãn"), handoff=handoff, recall=True)

    assert failed.value.code == "recall_failed" and "chưa thu hồi được" in failed.value.message
    assert failed.value.detail == f"airing {evening}"
    # The night programme is recalled even though the evening one could not be.
    assert handoff.stops == [(night, (ids["Cụm 1"],))]
    assert bulletin_status(db, bulletin) == BulletinStatus.CANCELLED
    statuses = {a.id: a.status for a in airings(db)}
    assert statuses == {evening: AiringStatus.HANDED_OFF, night: AiringStatus.EMPTY}


def test_a_recall_that_succeeds_raises_nothing(settings: Settings, db: Database, speech: SpeechService) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, "Sáng mai tiêm phòng cho trẻ em.")
    evening = programming_service(settings, db, speech, RecordingHandoff(), SESSION - timedelta(minutes=10)
                                  ).run_session(ids["commune"], "evening", SESSION).airing_id
    handoff = RecordingHandoff()
    cancelled = act(settings, db, speech, SESSION - timedelta(minutes=5), ids["author"],
                    lambda w, u: w.cancel(u, bulletin, "Hoãn").status, handoff=handoff, recall=True)
    assert cancelled == BulletinStatus.CANCELLED and handoff.stops == [(evening, (ids["Cụm 1"],))]


def test_an_emergency_reaches_only_active_clusters_of_its_own_commune(db: Database) -> None:
    bare = add_commune(db, code="xa-trong", zones=("Thôn Trống",), clusters=())
    other = add_commune(db, code="xa-ben", zones=("Thôn Bến",), clusters=(("Cụm bến", "Thôn Bến"), ("Cụm chợ", None)))
    with db.session() as s:
        # The neighbour's speakers do not count for a commune that has none.
        with pytest.raises(NoTargetClusters) as refused:
            check_reaches_clusters(s, bare["commune"], (), ())
        assert refused.value.code == "no_target_clusters" and refused.value.status == 409
        with pytest.raises(NoTargetClusters):
            check_reaches_clusters(s, bare["commune"], (), (other["Cụm bến"],))
        with pytest.raises(NoTargetClusters):
            check_reaches_clusters(s, bare["commune"], (other["Thôn Bến"],), ())
        check_reaches_clusters(s, other["commune"], (), ())
        check_reaches_clusters(s, other["commune"], (other["Thôn Bến"],), ())
        check_reaches_clusters(s, other["commune"], (), (other["Cụm chợ"],))
        # A zone or a cluster of the commune reaches only where it has speakers.
        with pytest.raises(NoTargetClusters):
            check_reaches_clusters(s, bare["commune"], (bare["Thôn Trống"],), ())
        s.get_one(Cluster, other["Cụm bến"]).retired_at = utc_now()
        s.flush()
        with pytest.raises(NoTargetClusters):
            check_reaches_clusters(s, other["commune"], (other["Thôn Bến"],), ())
        with pytest.raises(NoTargetClusters):
            check_reaches_clusters(s, other["commune"], (), (other["Cụm bến"],))
        check_reaches_clusters(s, other["commune"], (other["Thôn Bến"],), (other["Cụm chợ"],))


def test_send_emergency_forces_emergency_priority_and_the_senders_commune(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    handoff = RecordingHandoff()
    fields = BulletinFields(title="Khẩn: cháy", text="Cháy rừng ở đồi thông, bà con không vào rừng.",
                            priority=Priority.NORMAL)
    sent = act(settings, db, speech, NOON, ids["author"], lambda w, u: w.send_emergency(u, fields), handoff=handoff)
    with db.session() as s:
        stored = s.get_one(Bulletin, sent.bulletin.id)
        assert (stored.priority, stored.commune_id, stored.status) == (
            Priority.EMERGENCY, ids["commune"], BulletinStatus.AIRED)
        assert (stored.approver_id, stored.submitted_at is not None, stored.decided_at is not None) == (
            ids["author"], True, True)
    assert sent.created is True
    [programme] = handoff.programmes
    assert programme.priority == Priority.EMERGENCY
    [airing] = airings(db)
    assert (airing.kind, airing.status) == (AiringKind.EMERGENCY, AiringStatus.HANDED_OFF)
    assert [e.details for e in events(db, "emergency")] == [{"self_approval": "single_leader"}]


def test_an_emergency_nobody_can_hear_is_refused_before_it_is_stored(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=())
    fields = BulletinFields(title="Khẩn: lũ", text="Nước lũ lên nhanh.")
    with pytest.raises(NoTargetClusters):
        act(settings, db, speech, NOON, ids["author"], lambda w, u: w.send_emergency(u, fields))
    with db.session() as s:
        assert s.scalars(select(Bulletin)).all() == []
    submitted = add_bulletin(db, ids, "Khẩn: lũ.", priority=Priority.EMERGENCY, status=BulletinStatus.SUBMITTED)
    with pytest.raises(NoTargetClusters):
        act(settings, db, speech, NOON, ids["author"], lambda w, u: w.approve(u, submitted))
    assert bulletin_status(db, submitted) == BulletinStatus.SUBMITTED and airings(db) == []


def test_submit_and_approve_take_the_windows_last_day_and_refuse_the_day_after(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, four_eyes=False)
    officer = add_officer(db, ids["commune"])
    last_day = add_bulletin(db, {**ids, "author": officer}, "Hết hạn hôm nay.", status=BulletinStatus.DRAFT,
                            start=TODAY - timedelta(days=2), end=TODAY)
    ended = add_bulletin(db, {**ids, "author": officer}, "Hết hạn hôm qua.", status=BulletinStatus.DRAFT,
                         start=TODAY - timedelta(days=2), end=TODAY - timedelta(days=1))
    late = NOON.replace(hour=23, minute=59)
    assert act(settings, db, speech, late, officer, lambda w, u: w.submit(u, last_day).status) == BulletinStatus.SUBMITTED
    with pytest.raises(WindowInPast):
        act(settings, db, speech, NOON, officer, lambda w, u: w.submit(u, ended))
    assert bulletin_status(db, ended) == BulletinStatus.DRAFT
    with pytest.raises(WindowInPast):
        act(settings, db, speech, late + timedelta(minutes=2), ids["author"], lambda w, u: w.approve(u, last_day))
    assert bulletin_status(db, last_day) == BulletinStatus.SUBMITTED
    approved = act(settings, db, speech, late, ids["author"], lambda w, u: w.approve(u, last_day).status)
    assert approved == BulletinStatus.APPROVED


def test_an_aired_bulletin_is_cancelled_on_its_windows_last_day(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, "Phát tới hôm nay.", status=BulletinStatus.AIRED,
                            start=TODAY - timedelta(days=2), end=TODAY)
    with pytest.raises(AiringWindowOver) as over:  # the day after, nothing is left to take off the air
        act(settings, db, speech, NOON + timedelta(days=1), ids["author"], lambda w, u: w.cancel(u, bulletin, "Thôi"))
    assert (over.value.code, over.value.status) == ("bulletin_window_over", 409)
    cancelled = act(settings, db, speech, LATER + timedelta(minutes=30), ids["author"],
                    lambda w, u: w.cancel(u, bulletin, "Thôi").status)
    assert cancelled == BulletinStatus.CANCELLED
    [cancel] = events(db, "cancel")
    assert cancel.details == {"reason": "Thôi", "was": "aired"}
    assert events(db, "emergency_stop") == []


def test_a_rejection_needs_a_reason_of_at_most_the_limit(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    officer = add_officer(db, ids["commune"])
    bulletin = add_bulletin(db, {**ids, "author": officer}, "Xin duyệt.", status=BulletinStatus.SUBMITTED)
    for reason in ("", "   ", "x" * (REASON_MAX_LENGTH + 1)):
        with pytest.raises(ReasonRequired) as refused:
            act(settings, db, speech, NOON, ids["author"], lambda w, u, r=reason: w.reject(u, bulletin, r))
        assert (refused.value.code, refused.value.status) == ("reason_required", 422)
    assert bulletin_status(db, bulletin) == BulletinStatus.SUBMITTED
    longest = " " + "x" * REASON_MAX_LENGTH + " "
    rejected = act(settings, db, speech, NOON, ids["author"], lambda w, u: w.reject(u, bulletin, longest))
    assert rejected.status == BulletinStatus.REJECTED and rejected.rejection_reason == "x" * REASON_MAX_LENGTH
    [event] = events(db, "reject")
    assert event.details == {"reason": "x" * REASON_MAX_LENGTH}


def test_each_step_needs_its_role_and_a_wrong_status_names_the_step(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    officer = add_officer(db, ids["commune"])
    with db.session() as s:
        other = User(username="canbo-khac", role=Role.OFFICER, commune_id=ids["commune"], password_hash="x")
        s.add(other)
        s.flush()
        other_id = other.id
    draft = add_bulletin(db, {**ids, "author": officer}, "Bản nháp.", status=BulletinStatus.DRAFT)
    submitted = add_bulletin(db, {**ids, "author": officer}, "Chờ duyệt.", status=BulletinStatus.SUBMITTED)
    fields = BulletinFields(title="Khẩn", text="Nước lũ lên nhanh.")
    for refused_step in (lambda w, u: w.approve(u, submitted), lambda w, u: w.reject(u, submitted, "Sai"),
                         lambda w, u: w.send_emergency(u, fields)):
        with pytest.raises(RoleTooLow):
            act(settings, db, speech, NOON, officer, refused_step)
    with pytest.raises(NotAuthor):
        act(settings, db, speech, NOON, other_id, lambda w, u: w.submit(u, draft))
    assert bulletin_status(db, draft) == BulletinStatus.DRAFT
    assert bulletin_status(db, submitted) == BulletinStatus.SUBMITTED
    with db.session() as s:
        assert s.scalars(select(Bulletin).where(Bulletin.priority == Priority.EMERGENCY)).all() == []
    for step, verb in ((lambda w, u: w.approve(u, draft), "duyệt"), (lambda w, u: w.reject(u, draft, "Sai"), "từ chối"),
                       (lambda w, u: w.submit(u, submitted), "gửi duyệt")):
        with pytest.raises(BulletinWrongStatus) as wrong:
            act(settings, db, speech, NOON, ids["author"], step)
        assert wrong.value.message.endswith(f"không thể {verb}.")
    act(settings, db, speech, NOON, ids["author"], lambda w, u: w.reject(u, submitted, "Sai"))
    with pytest.raises(BulletinWrongStatus) as wrong:
        act(settings, db, speech, NOON, ids["author"], lambda w, u: w.cancel(u, submitted))
    assert wrong.value.message.endswith("không thể hủy.")


def test_submit_approve_and_cancel_are_on_the_record(settings: Settings, db: Database, speech: SpeechService) -> None:
    ids = add_commune(db)
    officer = add_officer(db, ids["commune"])
    bulletin = add_bulletin(db, {**ids, "author": officer}, "Họp dân.", status=BulletinStatus.DRAFT)
    act(settings, db, speech, NOON, officer, lambda w, u: w.submit(u, bulletin))
    act(settings, db, speech, NOON, ids["author"], lambda w, u: w.approve(u, bulletin))
    assert bulletin_status(db, bulletin) == BulletinStatus.APPROVED
    cancelled = act(settings, db, speech, NOON, ids["author"], lambda w, u: w.cancel(u, bulletin).status)
    assert cancelled == BulletinStatus.CANCELLED
    recorded = [(e.action, e.object_type, e.object_id, e.commune_id, e.actor_id, e.details) for e in events(db)]
    assert recorded == [
        ("submit", "bulletin", bulletin, ids["commune"], officer, {}),
        ("approve", "bulletin", bulletin, ids["commune"], ids["author"], {}),
        ("cancel", "bulletin", bulletin, ids["commune"], ids["author"], {"reason": "", "was": "approved"}),
    ]


def test_a_province_bulletins_copy_is_not_the_communes_to_cancel(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, "Thông báo của tỉnh.")
    with db.session() as s:
        province = ProvinceBulletin(title="Tỉnh", text="Thông báo của tỉnh.", start_date=TODAY, end_date=TODAY,
                                    author_id=ids["author"])
        s.add(province)
        s.flush()
        s.get_one(Bulletin, bulletin).province_bulletin_id = province.id
    with pytest.raises(ProvinceCopyReadOnly) as refused:
        act(settings, db, speech, NOON, ids["author"], lambda w, u: w.cancel(u, bulletin))
    assert refused.value.message.endswith("xã không được hủy.")
    assert bulletin_status(db, bulletin) == BulletinStatus.APPROVED


def test_a_finished_emergency_stays_aired_unless_it_was_asked_to_air_again_in_todays_sessions(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    finished = add_bulletin(db, ids, "Khẩn đã phát.", priority=Priority.EMERGENCY, status=BulletinStatus.AIRED,
                            start=TODAY, end=TODAY, approved_at=NOON - timedelta(hours=1))
    with pytest.raises(EmergencyFinished) as refused:
        act(settings, db, speech, NOON, ids["author"], lambda w, u: w.cancel(u, finished))
    assert (refused.value.code, refused.value.status) == ("emergency_already_aired", 409)
    assert bulletin_status(db, finished) == BulletinStatus.AIRED
    replaying = add_bulletin(db, ids, "Khẩn, phát lại trong các buổi hôm nay.", priority=Priority.EMERGENCY,
                             status=BulletinStatus.AIRED, start=TODAY, end=TODAY,
                             approved_at=NOON - timedelta(hours=1))
    with db.session() as s:
        s.get_one(Bulletin, replaying).replay_in_sessions = True
    cancelled = act(settings, db, speech, NOON, ids["author"], lambda w, u: w.cancel(u, replaying).status)
    assert cancelled == BulletinStatus.CANCELLED
    # The day after its window, even a replaying one has nothing left.
    with db.session() as s:
        s.get_one(Bulletin, finished).replay_in_sessions = True
    with pytest.raises(EmergencyFinished):
        act(settings, db, speech, NOON + timedelta(days=1), ids["author"], lambda w, u: w.cancel(u, finished))


def test_with_another_leader_the_sender_of_an_emergency_must_declare_being_the_only_one_on_duty(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    with db.session() as s:
        s.add(User(username="pho-chu-tich", role=Role.APPROVER, commune_id=ids["commune"], password_hash="x"))
    fields = BulletinFields(title="Khẩn: lũ", text="Nước lũ lên nhanh, bà con sơ tán ngay.")
    with pytest.raises(FourEyesRequired):
        act(settings, db, speech, NOON, ids["author"], lambda w, u: w.send_emergency(u, fields))
    handoff = RecordingHandoff()
    sent = act(settings, db, speech, NOON, ids["author"],
               lambda w, u: w.send_emergency(u, fields, sole_leader_on_duty=True), handoff=handoff)
    assert sent.created and len(handoff.programmes) == 1
    assert [e.details for e in events(db, "emergency")] == [{"self_approval": "declared_sole_leader_on_duty"}]


def test_a_retried_emergency_airs_once_and_a_first_attempt_that_died_before_approval_goes_on(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    fields = BulletinFields(title="Khẩn: lũ", text="Nước lũ lên nhanh, bà con sơ tán ngay.")
    handoff = RecordingHandoff()

    def send(w: Workflow, u: User) -> tuple[int, bool, int, BulletinStatus]:
        result = w.send_emergency(u, fields, idempotency_key="khan-1")
        return result.bulletin.id, result.created, result.airing.airing_id, result.bulletin.status

    first = act(settings, db, speech, NOON, ids["author"], send, handoff=handoff)
    again = act(settings, db, speech, NOON + timedelta(seconds=3), ids["author"], send, handoff=handoff)
    assert first[1] is True and again[1] is False
    assert first[0] == again[0] and first[2] == again[2] and first[3] == again[3] == BulletinStatus.AIRED
    assert len(handoff.programmes) == 1 and len(airings(db)) == 1
    # A first attempt killed after storing the bulletin, before approving it: the retry approves and airs it.
    uploads = UploadStore(settings.data_dir / "uploads", max_bytes=1024 * 1024, max_duration_s=60)
    with db.session() as s:
        left = BulletinService(s, clock=FixedClock(NOON), uploads=uploads).create(
            s.get_one(User, ids["author"]), replace(fields, priority=Priority.EMERGENCY), idempotency_key="khan-2")
        left_id = left.bulletin.id
    assert bulletin_status(db, left_id) == BulletinStatus.DRAFT

    def retry(w: Workflow, u: User) -> tuple[int, bool, int, BulletinStatus]:
        result = w.send_emergency(u, fields, idempotency_key="khan-2")
        return result.bulletin.id, result.created, result.airing.airing_id, result.bulletin.status

    resumed = act(settings, db, speech, NOON + timedelta(seconds=10), ids["author"], retry, handoff=handoff)
    assert resumed[0] == left_id and resumed[1] is False and resumed[3] == BulletinStatus.AIRED
    assert len(handoff.programmes) == 2 and len(airings(db)) == 2


def test_an_approved_emergency_that_can_never_air_says_so(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    with db.session() as s:
        second = User(username="pho-chu-tich", role=Role.APPROVER, commune_id=ids["commune"], password_hash="x")
        s.add(second)
        s.flush()
        second_id = second.id
    gone = add_bulletin(db, ids, "", priority=Priority.EMERGENCY, status=BulletinStatus.SUBMITTED,
                        upload_sha256="ab" * 32)  # its recording is not there
    handoff = RecordingHandoff()
    with pytest.raises(EmergencyAiringFailed) as failed:
        act(settings, db, speech, NOON, second_id, lambda w, u: w.approve(u, gone), handoff=handoff)
    assert "nhưng không phát được" in failed.value.message and failed.value.code == "emergency_airing_failed"
    assert bulletin_status(db, gone) == BulletinStatus.APPROVED and handoff.programmes == []
    assert [e.action for e in events(db)] == ["approve", "emergency", "failed"]
    [airing] = airings(db)
    assert airing.status == AiringStatus.FAILED


class DeliveryDownHandoff(RecordingHandoff):
    """Delivery unreachable while ``down``: the whole hand-off raises (no cluster gets anything); records once up."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def hand_off_many(self, programmes: Any, *, keep_issued: bool = False) -> dict[int, str]:
        """Raise while down, else record every programme."""
        if self.down:
            raise DeliveryDown("Không gửi được lệnh phát tới cụm loa.", detail="delivery unreachable")
        return super().hand_off_many(programmes, keep_issued=keep_issued)


def test_the_reason_limit_is_the_one_the_api_declares() -> None:
    # The API refuses a longer cancel or decline reason before the workflow sees it; the two must agree.
    from broadcaster.api.schemas.bulletins import CancelBody
    from broadcaster.api.schemas.province import DeclineBody

    for body in (CancelBody, DeclineBody):
        [limit] = [m.max_length for m in body.model_fields["reason"].metadata if hasattr(m, "max_length")]
        assert limit == REASON_MAX_LENGTH == 2000


def test_submit_and_reject_are_committed_by_the_workflow_itself(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    # (``act`` closes its session without committing, as the API's request session does.)
    ids = add_commune(db)
    officer = add_officer(db, ids["commune"])
    bulletin = add_bulletin(db, {**ids, "author": officer}, "Họp dân.", status=BulletinStatus.DRAFT)
    act(settings, db, speech, NOON, officer, lambda w, u: w.submit(u, bulletin))
    assert bulletin_status(db, bulletin) == BulletinStatus.SUBMITTED
    act(settings, db, speech, NOON, ids["author"], lambda w, u: w.reject(u, bulletin, "Sai ngày"))
    assert bulletin_status(db, bulletin) == BulletinStatus.REJECTED
    assert [e.action for e in events(db)] == ["submit", "reject"]


def test_a_sole_leader_approves_their_own_emergency_but_never_their_own_ordinary_bulletin(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)  # four eyes on; the author is the commune's only approver
    ordinary = add_bulletin(db, ids, "Họp dân tối nay.", status=BulletinStatus.SUBMITTED)
    with pytest.raises(FourEyesRequired) as refused:
        act(settings, db, speech, NOON, ids["author"], lambda w, u: w.approve(u, ordinary))
    assert "người soạn không tự duyệt" in refused.value.message
    assert bulletin_status(db, ordinary) == BulletinStatus.SUBMITTED
    emergency = add_bulletin(db, ids, "Khẩn: lũ.", priority=Priority.EMERGENCY, status=BulletinStatus.SUBMITTED)
    handoff = RecordingHandoff()
    act(settings, db, speech, NOON, ids["author"], lambda w, u: w.approve(u, emergency), handoff=handoff)
    assert bulletin_status(db, emergency) == BulletinStatus.AIRED and len(handoff.programmes) == 1
    assert [e.details for e in events(db, "approve")] == [{"self_approval": "single_leader"}]


def test_a_draft_emergency_left_from_an_earlier_day_is_still_cancelled(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    # A first attempt that died before its approval leaves a draft; its author discards it days later.
    ids = add_commune(db)
    yesterday = TODAY - timedelta(days=1)
    draft = add_bulletin(db, ids, "Khẩn: lũ.", priority=Priority.EMERGENCY, status=BulletinStatus.DRAFT,
                         start=yesterday, end=yesterday)
    cancelled = act(settings, db, speech, NOON, ids["author"], lambda w, u: w.cancel(u, draft, "Bỏ").status)
    assert cancelled == BulletinStatus.CANCELLED
    assert events(db, "emergency_stop") == []


def test_an_emergency_delivery_could_not_take_is_retried_by_sending_again_and_airs_once(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    fields = BulletinFields(title="Khẩn: lũ", text="Nước lũ lên nhanh, bà con sơ tán ngay.")
    handoff = DeliveryDownHandoff()

    def send(w: Workflow, u: User) -> tuple[int, bool, str, BulletinStatus]:
        result = w.send_emergency(u, fields, idempotency_key="khan-1")
        return result.bulletin.id, result.created, result.airing.status, result.bulletin.status

    with pytest.raises(EmergencyAiringFailed) as failed:
        act(settings, db, speech, NOON, ids["author"], send, handoff=handoff)
    # Not the bulletin's fault: staff are told it is stored, approved and retried.
    assert failed.value.code == "emergency_airing_failed" and "Hệ thống tự thử lại" in failed.value.message
    assert failed.value.detail == "delivery unreachable"
    [airing] = airings(db)
    assert airing.status == AiringStatus.PLANNED
    # Sent again while delivery is still down: the same error, nothing new stored.
    with pytest.raises(EmergencyAiringFailed) as again:
        act(settings, db, speech, NOON + timedelta(seconds=3), ids["author"], send, handoff=handoff)
    assert "Hệ thống tự thử lại" in again.value.message and len(airings(db)) == 1
    handoff.down = False
    bulletin_id, created, status, bulletin_status_after = act(
        settings, db, speech, NOON + timedelta(seconds=6), ids["author"], send, handoff=handoff)
    assert (created, status, bulletin_status_after) == (False, "handed_off", BulletinStatus.AIRED)
    # The accepted airing was put on the air; no second one was made for the retry.
    assert [a.id for a in airings(db)] == [airing.id] and len(handoff.programmes) == 1
    assert bulletin_status(db, bulletin_id) == BulletinStatus.AIRED


def test_an_approved_emergency_without_an_airing_is_aired_by_sending_again(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    # Approved, but its airing intent is not there (approved before intents were written with the approval).
    ids = add_commune(db)
    fields = BulletinFields(title="Khẩn: lũ", text="Nước lũ lên nhanh, bà con sơ tán ngay.",
                            priority=Priority.EMERGENCY)
    uploads = UploadStore(settings.data_dir / "uploads", max_bytes=1024 * 1024, max_duration_s=60)
    with db.session() as s:
        created = BulletinService(s, clock=FixedClock(NOON), uploads=uploads).create(
            s.get_one(User, ids["author"]), fields, idempotency_key="khan-3")
        bulletin_id = created.bulletin.id
        created.bulletin.status = BulletinStatus.APPROVED
    handoff = RecordingHandoff()
    status = act(settings, db, speech, NOON, ids["author"],
                 lambda w, u: w.send_emergency(u, fields, idempotency_key="khan-3").airing.status, handoff=handoff)
    assert status == "handed_off" and len(handoff.programmes) == 1
    assert bulletin_status(db, bulletin_id) == BulletinStatus.AIRED


def test_the_accepted_crash_point_falls_after_the_approval_commits_and_before_anything_airs(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    # The fault-injection suite kills a server there (``accepted``); what it proves rests on where it is.
    ids = add_commune(db)
    fields = BulletinFields(title="Khẩn: lũ", text="Nước lũ lên nhanh, bà con sơ tán ngay.")
    pid = os.fork()
    if pid == 0:  # the child: a server process armed to die at ``accepted``
        code = 3
        try:
            db.engine.dispose(close=False)  # never share the parent's connections
            os.environ[faults.ENV] = "accepted"
            faults._plan = None  # read again, as a new process would (the parent has read it unarmed)
            act(settings, db, speech, NOON, ids["author"],
                lambda w, u: w.send_emergency(u, fields, idempotency_key="khan-9"))
            code = 0  # the crash point never fired
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child ended with {status}"
    [bulletin] = [b for b in airings(db)[0].items]
    assert bulletin_status(db, bulletin.bulletin_id) == BulletinStatus.APPROVED
    [airing] = airings(db)
    assert (airing.status, airing.composed_at, airing.deliveries) == (AiringStatus.PLANNED, None, [])
    # Sending again (the same key) puts the accepted airing on the air.
    handoff = RecordingHandoff()
    status_after = act(settings, db, speech, NOON + timedelta(seconds=5), ids["author"],
                       lambda w, u: w.send_emergency(u, fields, idempotency_key="khan-9").airing.status,
                       handoff=handoff)
    assert status_after == "handed_off" and [p.airing_id for p in handoff.programmes] == [airing.id]
    # Unarmed (this process), the crash point is one look-up: another emergency airs at once.
    fire = BulletinFields(title="Khẩn: cháy", text="Cháy rừng ở đồi thông, bà con không vào rừng.")
    assert act(settings, db, speech, NOON + timedelta(seconds=10), ids["author"],
               lambda w, u: w.send_emergency(u, fire).airing.status, handoff=handoff) == "handed_off"


def test_two_retries_of_a_left_draft_emergency_at_once_air_it_once_and_the_other_is_told_why(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    fields = BulletinFields(title="Khẩn: lũ", text="Nước lũ lên nhanh, bà con sơ tán ngay.")
    uploads = UploadStore(settings.data_dir / "uploads", max_bytes=1024 * 1024, max_duration_s=60)
    with db.session() as s:  # a first attempt that died after storing the bulletin, before approving it
        left = BulletinService(s, clock=FixedClock(NOON), uploads=uploads).create(
            s.get_one(User, ids["author"]), replace(fields, priority=Priority.EMERGENCY), idempotency_key="khan-4")
        left_id = left.bulletin.id
    handoff = RecordingHandoff()

    def retry(w: Workflow, u: User) -> BulletinStatus:
        return w.send_emergency(u, fields, idempotency_key="khan-4").bulletin.status

    other: list[BulletinStatus] = []

    def meanwhile(state: ORMExecuteState) -> None:
        # The first retry is about to approve the draft: the second one, on another session, gets there first.
        if state.is_update and state.bind_mapper is not None and state.bind_mapper.class_ is Bulletin and not other:
            other.append(BulletinStatus.DRAFT)
            other[0] = act(settings, db, speech, NOON + timedelta(seconds=5), ids["author"], retry, handoff=handoff)

    event.listen(db.session_factory, "do_orm_execute", meanwhile)
    try:
        with pytest.raises(BulletinWrongStatus) as lost:
            act(settings, db, speech, NOON + timedelta(seconds=5), ids["author"], retry, handoff=handoff)
    finally:
        event.remove(db.session_factory, "do_orm_execute", meanwhile)
    assert other == [BulletinStatus.AIRED]
    assert lost.value.message.endswith("không thể phát khẩn.") and lost.value.code == "bulletin_wrong_status"
    assert bulletin_status(db, left_id) == BulletinStatus.AIRED
    assert len(airings(db)) == 1 and len(handoff.programmes) == 1
    assert [e.action for e in events(db, "emergency")] == ["emergency"]
