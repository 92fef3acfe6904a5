"""Composing session programmes with the real speech service: order, targets, repeats, cap, late, missed."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import (
    Airing,
    AiringItemStatus,
    AiringKind,
    AiringStatus,
    BulletinStatus,
    DeliveryState,
    Priority,
)
from broadcaster.services.handoff import RecordingHandoff
from broadcaster.speech import ProgrammePiece, SpeechService
from broadcaster.tts.chain import EngineChain
from broadcaster.tts.gtts import GttsEngine, RetryPolicy
from tests.fakes.handoff import FailingHandoff
from tests.scheduler.processes import free_port
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

# Today 17:00: the sessions below run every day, and test bulletins cover yesterday to tomorrow.
SESSION = datetime.combine(datetime.now(LOCAL_ZONE).date(), time(17, 0), LOCAL_ZONE)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = make_settings(tmp_path, misfire_grace_s=600.0, prompt_delay_s=5.0)
    write_timetable(settings.schedules_dir, [("evening", SESSION, 2.0), ("night", SESSION + timedelta(hours=3), 0.3)])
    return settings


def duration(speech: SpeechService, text: str, repeat: int = 1) -> float:
    return speech.piece_duration_s(ProgrammePiece(text=text, repeat=repeat))


def test_each_cluster_gets_its_targeted_bulletins_by_priority_then_age_with_repeats(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, zones=("Thôn Một", "Thôn Hai"),
                      clusters=(("Cụm A", "Thôn Một"), ("Cụm B", "Thôn Hai"), ("Cụm C", None), ("Cụm D", "Thôn Hai")))
    day = SESSION.date()
    old = add_bulletin(db, ids, "Họp dân lúc tám giờ.", approved_at=SESSION - timedelta(days=2))
    new = add_bulletin(db, ids, "Nộp thuế đúng hạn.", approved_at=SESSION - timedelta(hours=1), repeat=2)
    zone_one = add_bulletin(db, ids, "Thôn Một cắt điện.", priority=Priority.PRIORITY, zones=("Thôn Một",),
                            approved_at=SESSION - timedelta(hours=2))
    cluster_c = add_bulletin(db, ids, "Bão sắp vào.", priority=Priority.EMERGENCY, clusters=("Cụm C",),
                             approved_at=SESSION - timedelta(hours=3))
    add_bulletin(db, ids, "Chưa tới ngày.", start=day + timedelta(days=1), end=day + timedelta(days=2))
    add_bulletin(db, ids, "Đã hết hạn.", start=day - timedelta(days=3), end=day - timedelta(days=1))
    add_bulletin(db, ids, "Chưa duyệt.", status=BulletinStatus.SUBMITTED)
    handoff = RecordingHandoff()

    result = programming_service(settings, db, speech, handoff, SESSION - timedelta(minutes=10)).run_session(
        ids["commune"], "evening", SESSION)

    assert result.status == AiringStatus.HANDED_OFF
    [airing] = airings(db)
    included = {cid: [i.bulletin_id for i in sorted(airing.items, key=lambda i: i.position) if i.cluster_id == cid]
                for cid in (ids["Cụm A"], ids["Cụm B"], ids["Cụm C"], ids["Cụm D"])}  # fmt: skip
    assert included == {
        ids["Cụm A"]: [zone_one, old, new],
        ids["Cụm B"]: [old, new],
        ids["Cụm C"]: [cluster_c, old, new],
        ids["Cụm D"]: [old, new],
    }
    programmes = {p.cluster_id: p for p in handoff.programmes}
    assert set(programmes) == set(included)
    assert all(p.play_at == SESSION and p.airing_id == airing.id for p in programmes.values())
    assert programmes[ids["Cụm C"]].priority == Priority.EMERGENCY
    assert programmes[ids["Cụm A"]].priority == Priority.PRIORITY
    assert programmes[ids["Cụm B"]].priority == Priority.NORMAL
    # Identical programmes share one render; different ones do not.
    assert programmes[ids["Cụm B"]].audio is programmes[ids["Cụm D"]].audio
    assert programmes[ids["Cụm A"]].audio.sha256 != programmes[ids["Cụm B"]].audio.sha256
    # Repeats are counted in the item's length, and the rendered file holds them with the chimes.
    new_item = next(i for i in airing.items if i.bulletin_id == new and i.cluster_id == ids["Cụm B"])
    assert new_item.duration_s == pytest.approx(duration(speech, "Nộp thuế đúng hạn.", repeat=2), abs=0.01)
    assert new_item.duration_s > 1.5 * duration(speech, "Nộp thuế đúng hạn.")
    speech_b = sum(i.duration_s for i in airing.items if i.cluster_id == ids["Cụm B"])
    assert programmes[ids["Cụm B"]].audio.duration_s > speech_b
    assert {d.cluster_id: d.state for d in airing.deliveries} == dict.fromkeys(included, DeliveryState.PENDING)
    # Aired from now on, and logged.
    assert {bulletin_status(db, b) for b in (old, new, zone_one, cluster_c)} == {BulletinStatus.AIRED}
    assert sorted(e.object_id for e in events(db, "aired")) == sorted([old, new, zone_one, cluster_c])
    [compose] = events(db, "compose")
    assert compose.object_id == airing.id and compose.details["status"] == "handed_off"


def test_what_does_not_fit_is_deferred_logged_and_airs_first_in_the_next_session(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    texts = ["Thông báo thứ nhất về việc tiêm phòng cho trâu bò và gia cầm trong toàn xã, từ ngày mai.",
             "Thông báo thứ hai về lịch thu gom rác thải.",
             "Thông báo thứ ba về kế hoạch nạo vét kênh mương nội đồng.",
             "Họp."]  # fmt: skip
    repeats = [2, 2, 2, 1]
    lengths = [duration(speech, t, r) for t, r in zip(texts, repeats, strict=True)]
    pieces = [ProgrammePiece(text=texts[0], repeat=2), ProgrammePiece(text=texts[3])]
    overhead = speech.render_programme(pieces, chime=True).duration_s - lengths[0] - lengths[3]
    # Room for the first and the short last bulletin, not for the second or third.
    cap_s = lengths[0] + lengths[3] + overhead + 0.5
    assert min(lengths[1], lengths[2]) > lengths[3] + 0.5, lengths
    assert lengths[1] <= lengths[0] < lengths[1] + lengths[2] - lengths[3] - 0.5, lengths
    session = {"name": "tight", "start": "20:00", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
               "max_minutes": cap_s / 60}  # fmt: skip
    ids = add_commune(db, override={"sessions": [session]})
    bulletin_ids = [add_bulletin(db, ids, text, repeat=r, approved_at=SESSION - timedelta(hours=9 - n))
                    for n, (text, r) in enumerate(zip(texts, repeats, strict=True))]  # fmt: skip
    tight = SESSION + timedelta(hours=3)
    handoff = RecordingHandoff()

    programming_service(settings, db, speech, handoff, tight - timedelta(minutes=10)).run_session(ids["commune"], "tight", tight)

    [airing] = airings(db)
    status = {i.bulletin_id: i.status for i in airing.items}
    assert [status[b] for b in bulletin_ids] == [AiringItemStatus.INCLUDED, AiringItemStatus.DEFERRED,
                                                 AiringItemStatus.DEFERRED, AiringItemStatus.INCLUDED]  # fmt: skip
    [programme] = handoff.programmes
    assert programme.audio.duration_s <= cap_s + 0.05
    deferred_events = events(db, "defer")
    assert sorted(e.object_id for e in deferred_events) == bulletin_ids[1:3]
    assert all(e.details["airing_id"] == airing.id for e in deferred_events)
    # Deferred bulletins stay approved (never aired); they move to the next session and lead it there,
    # ahead of the older bulletin that already aired (which now waits its turn).
    assert bulletin_status(db, bulletin_ids[1]) == BulletinStatus.APPROVED
    assert bulletin_status(db, bulletin_ids[0]) == BulletinStatus.AIRED
    next_day = tight + timedelta(days=1)
    programming_service(settings, db, speech, handoff, next_day - timedelta(minutes=10)).run_session(ids["commune"], "tight",
                                                                                        next_day)
    later = airings(db)[-1]
    placed = {i.bulletin_id: i.status for i in later.items}
    assert [placed[b] for b in bulletin_ids] == [AiringItemStatus.DEFERRED, AiringItemStatus.INCLUDED,
                                                 AiringItemStatus.DEFERRED, AiringItemStatus.INCLUDED]  # fmt: skip


def test_late_within_grace_airs_soon_and_beyond_grace_is_missed_and_both_are_logged(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    bulletin = add_bulletin(db, ids, "Họp dân.")
    handoff = RecordingHandoff()
    late_now = SESSION + timedelta(seconds=599)  # grace is 600 s

    late = programming_service(settings, db, speech, handoff, late_now).run_session(ids["commune"], "evening", SESSION)
    missed = programming_service(settings, db, speech, handoff, SESSION + timedelta(days=1, seconds=600)).run_session(
        ids["commune"], "evening", SESSION + timedelta(days=1))

    assert late.status == AiringStatus.AIRED_LATE and "Phát muộn" in (late.note or "")
    assert missed.status == AiringStatus.MISSED and "Bỏ lỡ" in (missed.note or "")
    [programme] = handoff.programmes
    assert programme.play_at == late_now + timedelta(seconds=5)
    assert programme.expires_at == programme.play_at + timedelta(seconds=600)
    first, second = airings(db)
    assert (first.status, second.status) == (AiringStatus.AIRED_LATE, AiringStatus.MISSED)
    assert second.items == [] and second.deliveries == []
    [missed_event] = events(db, "missed")
    assert missed_event.object_id == second.id
    assert bulletin_status(db, bulletin) == BulletinStatus.AIRED


def test_running_a_session_twice_airs_it_once_and_a_stale_occurrence_does_nothing(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    add_bulletin(db, ids, "Họp dân.")
    handoff = RecordingHandoff()
    programming = programming_service(settings, db, speech, handoff, SESSION - timedelta(minutes=10))

    first = programming.run_session(ids["commune"], "evening", SESSION)
    again = programming.run_session(ids["commune"], "evening", SESSION)
    stale = programming.run_session(ids["commune"], "evening", SESSION + timedelta(minutes=1))
    unknown = programming.run_session(ids["commune"], "noon", SESSION)

    assert first.status == AiringStatus.HANDED_OFF
    assert again.status is None and stale.status is None and unknown.status is None
    assert len(handoff.programmes) == 1 and len(airings(db)) == 1


def test_nothing_to_air_is_recorded_empty_and_nothing_is_handed_off(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    handoff = RecordingHandoff()
    result = programming_service(settings, db, speech, handoff, SESSION).run_session(ids["commune"], "evening", SESSION)
    assert result.status == AiringStatus.EMPTY and handoff.programmes == []


def test_one_unreachable_cluster_does_not_silence_the_others_and_is_logged(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db, clusters=(("Cụm 1", None), ("Cụm 2", None)))
    add_bulletin(db, ids, "Họp dân.")
    handoff = FailingHandoff([ids["Cụm 1"]])
    programming_service(settings, db, speech, handoff, SESSION - timedelta(minutes=10)).run_session(ids["commune"], "evening",
                                                                                       SESSION)
    [airing] = airings(db)
    assert [p.cluster_id for p in handoff.programmes] == [ids["Cụm 2"]]
    states = {d.cluster_id: (d.state, d.error) for d in airing.deliveries}
    assert states[ids["Cụm 1"]][0] == DeliveryState.FAILED and "Không chuyển được" in (states[ids["Cụm 1"]][1] or "")
    assert states[ids["Cụm 2"]][0] == DeliveryState.PENDING
    assert [e.details["cluster_id"] for e in events(db, "handoff_failed")] == [ids["Cụm 1"]]


def test_a_bulletin_that_cannot_be_rendered_is_left_out_and_logged_while_the_rest_airs(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    good = add_bulletin(db, ids, "Họp dân.")
    lost = add_bulletin(db, ids, "(bản ghi)", upload_sha256="0" * 64)  # the recording is not on disk
    handoff = RecordingHandoff()
    programming_service(settings, db, speech, handoff, SESSION - timedelta(minutes=10)).run_session(ids["commune"], "evening",
                                                                                       SESSION)
    [airing] = airings(db)
    assert [i.bulletin_id for i in airing.items] == [good]
    [failed] = events(db, "render_failed")
    assert failed.object_id == lost and failed.details["error"]


def test_approved_bulletins_whose_window_ended_expire_and_aired_ones_stay_aired(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    day = SESSION.date()
    never = add_bulletin(db, ids, "Không kịp phát.", start=day - timedelta(days=3), end=day - timedelta(days=1))
    aired = add_bulletin(db, ids, "Đã phát.", start=day - timedelta(days=3), end=day - timedelta(days=1),
                         status=BulletinStatus.AIRED)
    running = add_bulletin(db, ids, "Còn hạn.", start=day, end=day)
    # 00:05 the next day is within the 10-minute grace of the day before: nothing expires yet.
    early = programming_service(settings, db, speech, RecordingHandoff(), datetime.combine(day, datetime.min.time(),
                                                                             LOCAL_ZONE) + timedelta(minutes=5))
    assert early.expire_bulletins() == []
    assert programming_service(settings, db, speech, RecordingHandoff(), SESSION).expire_bulletins() == [never]
    assert [bulletin_status(db, b) for b in (never, aired, running)] == [
        BulletinStatus.EXPIRED, BulletinStatus.AIRED, BulletinStatus.APPROVED]
    [expired] = events(db, "expire")
    assert expired.object_id == never and expired.details["times_deferred"] == 0


def test_a_composition_that_fails_is_released_for_a_retry_and_missed_with_its_reason_after_grace(
    settings: Settings, db: Database, speech: SpeechService, tmp_path: Path
) -> None:
    ids = add_commune(db)
    add_bulletin(db, ids, "Một bản tin chưa ai đọc bao giờ ở đây.")
    # The only engine is Google's, and nothing listens where it is told to go: no speech at all.
    mute_settings = make_settings(tmp_path / "mute")
    unreachable = GttsEngine(base_url=f"http://127.0.0.1:{free_port()}", timeout_s=1.0,
                             retry=RetryPolicy(max_attempts=1))  # fmt: skip
    mute = SpeechService(mute_settings, chain=EngineChain([unreachable]))
    handoff = RecordingHandoff()

    failed = programming_service(settings, db, mute, handoff, SESSION - timedelta(minutes=10)).run_session(
        ids["commune"], "evening", SESSION)

    assert failed.retry and failed.status == AiringStatus.PLANNED
    [airing] = airings(db)
    assert airing.composed_at is None and (airing.note or "").startswith("Lỗi:")  # free for the retry
    given_up = programming_service(settings, db, mute, handoff, SESSION + timedelta(seconds=600)).run_session(
        ids["commune"], "evening", SESSION)
    assert given_up.status == AiringStatus.MISSED and not given_up.retry
    [airing] = airings(db)
    assert "Bỏ lỡ" in (airing.note or "") and "Lỗi:" in (airing.note or "")  # why it could not air, too
    assert handoff.programmes == []


def test_a_composition_a_dead_leader_left_half_done_is_released_and_done_again(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    ids = add_commune(db)
    add_bulletin(db, ids, "Họp dân.")
    with db.session() as s:  # what a leader killed while rendering leaves behind: a claimed, planned airing
        s.add(Airing(commune_id=ids["commune"], kind=AiringKind.SESSION, session_name="evening", starts_at=SESSION,
                     max_duration_s=120.0, composed_at=SESSION - timedelta(minutes=10)))  # fmt: skip
    handoff = RecordingHandoff()
    programming = programming_service(settings, db, speech, handoff, SESSION - timedelta(minutes=9))

    assert programming.run_session(ids["commune"], "evening", SESSION).status is None  # someone holds it
    assert programming.release_stale_claims() == 1  # what a new leader does first
    assert programming.run_session(ids["commune"], "evening", SESSION).status == AiringStatus.HANDED_OFF
    assert len(handoff.programmes) == 1 and len(airings(db)) == 1


def test_the_same_session_run_at_once_by_four_threads_is_composed_once(
    settings: Settings, db: Database, speech: SpeechService
) -> None:
    # What two leaders overlapping at a hand-over would do: the airing row is claimed by one only.
    ids = add_commune(db, clusters=(("Cụm A", None), ("Cụm B", None)))
    add_bulletin(db, ids, "Họp dân.")
    handoff = RecordingHandoff()
    programming = programming_service(settings, db, speech, handoff, SESSION - timedelta(minutes=9))
    start = threading.Barrier(4)
    results: list[object] = []

    def run() -> None:
        start.wait()
        results.append(programming.run_session(ids["commune"], "evening", SESSION).status)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(map(str, results)) == ["None", "None", "None", "handed_off"]
    assert len(airings(db)) == 1 and len(handoff.programmes) == 2  # one programme per cluster, once
