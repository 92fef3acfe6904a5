"""Airing one timetable session: claim it, compose each cluster's programme, render, hand off, record.

A session job may run on time (``lead_time_s`` before the start), late (the server was down at
that moment but is back within ``misfire_grace_s`` of the start: ``aired_late``, played a few
seconds from now) or too late (``missed``, with a note). The airing row is claimed with a
conditional UPDATE, so running the same job twice airs the session once.

Bulletin status: ``approved`` becomes ``aired`` when the bulletin is first handed off; it stays
on the programme of every later session of its window. ``expire_bulletins`` marks ``expired``
the approved bulletins whose window ended before they ever aired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broadcaster.clock import Clock, SystemClock, local
from broadcaster.config import Settings
from broadcaster.db import Database, aware_utc
from broadcaster.errors import BroadcasterError
from broadcaster.faults import crash_point
from broadcaster.models import (
    Airing,
    AiringItem,
    AiringItemStatus,
    AiringKind,
    AiringStatus,
    Bulletin,
    BulletinStatus,
    Commune,
    Delivery,
    DeliveryState,
)
from broadcaster.node_identity import NodeIdentity, transient_identity
from broadcaster.services.handoff import ClusterProgramme, ProgrammeHandoff
from broadcaster.services.programming.emergency import (
    BulletinNotAirable,
    EmergencyAirer,
    EmergencyAiring,
    EmergencyBulletinNotFound,
    accept_emergency,
    describe_emergency,
    latest_emergency_airing,
    stop_emergency,
)
from broadcaster.services.programming.emergency_batch import air_accepted
from broadcaster.services.programming.plan import (
    AIRABLE,
    ClusterPlan,
    load_candidates,
    load_clusters,
    system_event,
)
from broadcaster.services.programming.recall import RecallResult, recompose_airing
from broadcaster.services.programming.render import ProgrammeRenderer
from broadcaster.services.programming.resume import issued_cluster_ids, remaining_programmes
from broadcaster.services.programming.test_tone import TestToneAiring, air_test_tone
from broadcaster.timetable import SessionOccurrence, Timetable, effective_timetable, occurrence_at

if TYPE_CHECKING:
    from broadcaster.speech import SpeechService

log = logging.getLogger(__name__)
COMPOSE_ERROR = "Lỗi: "  # the airing note of a composition that failed and will be retried


@dataclass(frozen=True)
class SessionResult:
    """What a session job did: the airing it wrote (if any), its status, and whether to try again."""

    airing_id: int | None
    status: AiringStatus | None
    note: str | None = None
    retry: bool = False


class ProgrammingService:
    """Composes, renders and hands off programmes; the scheduler calls ``run_session``."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        speech: SpeechService,
        handoff: ProgrammeHandoff,
        timetables: dict[str, Timetable],
        clock: Clock | None = None,
        *,
        node: NodeIdentity | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.speech = speech
        self.handoff = handoff
        self.timetables = timetables
        self.clock = clock or SystemClock()
        self.uploads_dir = settings.data_dir / "uploads"
        self.renderer = ProgrammeRenderer(speech)
        self.node = node or transient_identity()
        self.holder = self.node.holder_id()  # who claims airings: this process of this node
        self.emergencies = EmergencyAirer(db, speech, handoff, self.clock, node=self.node, holder=self.holder,
                                          uploads_dir=self.uploads_dir, delay_s=settings.prompt_delay_s,
                                          window_s=settings.misfire_grace_s)

    def run_session(
        self, commune_id: int, session_name: str, starts_at: datetime, *, guard: Callable[[], bool] | None = None
    ) -> SessionResult:
        """Air one session occurrence: on time, late (within grace), or record it missed. Idempotent."""
        occurrence = self.occurrence(commune_id, session_name, starts_at)
        if occurrence is None:
            return SessionResult(None, None, "không còn trong lịch phát")
        airing_id = self._claim(commune_id, occurrence)
        if airing_id is None:
            return SessionResult(None, None, "đã xử lý")
        now = self.clock.now()
        with self.db.session() as s:
            handed_off = bool(issued_cluster_ids(s, airing_id))
        if handed_off:  # a previous run died after handing off: finish from the outbox, compose nothing
            return self._resume_from_outbox(airing_id, commune_id, occurrence, now)
        if now >= occurrence.starts_at + timedelta(seconds=self.settings.misfire_grace_s):
            return self._record_missed(airing_id, commune_id, occurrence, now)
        try:
            return self._compose_and_hand_off(airing_id, commune_id, occurrence, guard)
        except Exception as error:  # noqa: BLE001 - any failure: release the claim and let the scheduler retry
            log.exception("composing airing %s failed", airing_id)
            reason = error.message if isinstance(error, BroadcasterError) else f"{type(error).__name__}: {error}"
            self._release(airing_id, reason)
            return SessionResult(airing_id, AiringStatus.PLANNED, reason, retry=True)

    def _release(self, airing_id: int, reason: str) -> None:
        with self.db.session() as s:
            s.execute(update(Airing).where(Airing.id == airing_id).values(
                composed_at=None, claimed_by=None, note=f"{COMPOSE_ERROR}{reason}"))  # fmt: skip

    def _resume_from_outbox(self, airing_id: int, commune_id: int, occurrence: SessionOccurrence,
                            now: datetime) -> SessionResult:  # fmt: skip
        """Hand off what the dead run had not (as its Delivery rows say) and record the airing; compose nothing."""
        try:
            programmes = remaining_programmes(self.db, self.speech, airing_id, now,
                                              delay_s=self.settings.prompt_delay_s, uploads_dir=self.uploads_dir)
            failed = self.handoff.hand_off_many(programmes, keep_issued=True) if programmes else {}
        except Exception as error:  # noqa: BLE001 - as a composition: release the claim and let the scheduler retry
            log.exception("resuming airing %s failed", airing_id)
            reason = error.message if isinstance(error, BroadcasterError) else f"{type(error).__name__}: {error}"
            self._release(airing_id, reason)
            return SessionResult(airing_id, AiringStatus.PLANNED, reason, retry=True)
        with self.db.session() as s:
            airing = s.get_one(Airing, airing_id)
            last_play = s.scalar(select(func.max(Delivery.play_at)).where(Delivery.airing_id == airing_id))
            late = last_play is not None and aware_utc(last_play) > occurrence.starts_at
            airing.status = AiringStatus.AIRED_LATE if late else AiringStatus.HANDED_OFF
            airing.note = ("Máy chủ khởi động lại giữa lúc giao chương trình: các cụm loa đã nhận giữ nguyên lệnh, "
                           f"{len(programmes)} cụm loa còn lại nhận chương trình đã soạn; không soạn lại.")
            self._record_failed(s, airing_id, commune_id, failed)
            included = set(s.scalars(select(AiringItem.bulletin_id).where(
                AiringItem.airing_id == airing_id, AiringItem.status == AiringItemStatus.INCLUDED)))  # fmt: skip
            self._mark_aired(s, airing_id, commune_id, included)
            system_event(s, "compose", "airing", airing_id, commune_id,
                         {"session": occurrence.name, "starts_at": occurrence.starts_at.isoformat(),
                          "status": str(airing.status), "resumed_from_outbox": True,
                          "clusters_handed_off_now": [p.cluster_id for p in programmes]})  # fmt: skip
            status, note = airing.status, airing.note
        log.info("airing %s (%s %s) resumed from the outbox: %s", airing_id, occurrence.name,
                 occurrence.starts_at.isoformat(), status)
        return SessionResult(airing_id, status, note)

    def occurrence(self, commune_id: int, session_name: str, starts_at: datetime) -> SessionOccurrence | None:
        """The occurrence if the commune's current timetable still has it (a job may predate a change)."""
        with self.db.session() as s:
            commune = s.get(Commune, commune_id)
            if commune is None:
                return None
            try:
                timetable = effective_timetable(commune, self.timetables)
            except BroadcasterError as error:
                log.error("commune %s has no usable timetable: %s", commune_id, error.message)
                return None
        return occurrence_at(timetable, session_name, starts_at)

    def release_stale_claims(self) -> int:
        """Un-claim session airings a dead leader left half-composed, so that they run again."""
        with self.db.session() as s:
            result = s.execute(
                update(Airing)
                .where(Airing.kind == AiringKind.SESSION, Airing.status == AiringStatus.PLANNED,
                       Airing.composed_at.is_not(None))  # fmt: skip
                .values(composed_at=None, claimed_by=None)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def expire_bulletins(self) -> list[int]:
        """Mark ``expired`` every approved bulletin whose window has ended without it ever airing."""
        # A window ends with its last day, but a session late that day may still air within grace.
        last_open_day = local(self.clock.now() - timedelta(seconds=self.settings.misfire_grace_s)).date()
        with self.db.session() as s:
            bulletins = s.scalars(
                select(Bulletin).where(Bulletin.status == BulletinStatus.APPROVED, Bulletin.end_date < last_open_day)
            ).all()
            for bulletin in bulletins:
                bulletin.status = BulletinStatus.EXPIRED
                deferred = s.scalar(select(func.count()).select_from(AiringItem).where(
                    AiringItem.bulletin_id == bulletin.id, AiringItem.status == AiringItemStatus.DEFERRED))  # fmt: skip
                system_event(s, "expire", "bulletin", bulletin.id, bulletin.commune_id,
                             {"end_date": bulletin.end_date.isoformat(), "times_deferred": deferred})  # fmt: skip
            return [b.id for b in bulletins]

    def air_emergency(self, bulletin_id: int, *, actor_id: int | None = None) -> EmergencyAiring:
        """Air an approved emergency bulletin now at its clusters, pre-empting what plays (its intent if it has none)."""
        with self.db.session() as s:
            bulletin = s.get(Bulletin, bulletin_id)
            if bulletin is None:
                raise EmergencyBulletinNotFound(f"Không có bản tin số {bulletin_id}.")
            airing_id = latest_emergency_airing(s, bulletin_id)
            if airing_id is None or s.get_one(Airing, airing_id).status != AiringStatus.PLANNED:
                if bulletin.status not in AIRABLE:
                    raise BulletinNotAirable(f"Bản tin số {bulletin_id} chưa được duyệt nên không phát được.",
                                             detail=f"status {bulletin.status}")
                airing_id = accept_emergency(s, bulletin, self.clock.now())
        return self.emergencies.air(airing_id, actor_id=actor_id)

    def emergency_airing(self, bulletin_id: int, *, actor_id: int | None = None) -> EmergencyAiring | None:
        """The bulletin's emergency airing as it stands, put on the air first if nobody is on it (a retry)."""
        with self.db.session() as s:
            airing_id = latest_emergency_airing(s, bulletin_id)
        if airing_id is None:
            return None
        airing = describe_emergency(self.db, airing_id)
        if airing.status == str(AiringStatus.PLANNED):
            airing = self.emergencies.resume(airing_id)  # the retry resumes it if its first attempt died
        return airing

    def air_accepted_emergency(self, airing_id: int, *, actor_id: int | None = None) -> EmergencyAiring:
        """Put an emergency on the air whose intent was committed with its approval (``accept_emergency``)."""
        return self.emergencies.air(airing_id, actor_id=actor_id)

    def air_accepted_emergencies(self, airing_ids: Sequence[int], *,
                                 actor_id: int | None = None) -> dict[int, BroadcasterError]:  # fmt: skip
        """Put many accepted emergencies on the air together (a province-wide one); those not on the air, with why."""
        return air_accepted(self.emergencies, airing_ids, actor_id=actor_id)

    def resume_emergencies(self) -> list[int]:
        """Resume the accepted emergencies nobody is putting on the air (after a restart); the airings resumed."""
        return self.emergencies.resume_all()

    def air_test_tone(self, cluster_id: int, commune_id: int, *, actor_id: int | None = None) -> TestToneAiring:
        """Hand a short test tone to one cluster, to play in a few seconds (never pre-empting)."""
        return air_test_tone(self.db, self.speech, self.handoff, cluster_id, commune_id, self.clock.now(),
                             delay_s=self.settings.prompt_delay_s, expiry_s=self.settings.misfire_grace_s,
                             actor_id=actor_id)  # fmt: skip

    def stop_emergency(self, bulletin_id: int, *, actor_id: int | None = None) -> list[int]:
        """Stop every emergency airing of a bulletin; the ids of the airings stopped."""
        return stop_emergency(self.db, self.handoff, bulletin_id, self.clock.now(), actor_id=actor_id)

    def recompose_airing(self, airing_id: int, cluster_ids: Sequence[int], *,
                         actor_id: int | None = None) -> RecallResult:  # fmt: skip
        """Replace a handed-off session programme at these clusters by one without the bulletins cancelled since."""
        return recompose_airing(self.db, self.renderer, self.handoff, airing_id, cluster_ids, self.clock.now(),
                                uploads_dir=self.uploads_dir, actor_id=actor_id)  # fmt: skip

    def _claim(self, commune_id: int, occurrence: SessionOccurrence) -> int | None:
        """Get or create the airing and claim it atomically; None if it is done or being composed."""
        try:
            with self.db.session() as s:
                s.add(Airing(commune_id=commune_id, kind=AiringKind.SESSION, session_name=occurrence.name,
                             starts_at=occurrence.starts_at, max_duration_s=occurrence.max_duration_s))  # fmt: skip
        except IntegrityError:
            pass  # already there: a retry, a restart, or the same job run twice
        with self.db.session() as s:
            airing_id = s.scalar(select(Airing.id).where(
                Airing.commune_id == commune_id, Airing.session_name == occurrence.name,
                Airing.starts_at == occurrence.starts_at))  # fmt: skip
            claimed = s.execute(
                update(Airing)
                .where(Airing.id == airing_id, Airing.status == AiringStatus.PLANNED, Airing.composed_at.is_(None))
                .values(composed_at=self.clock.now(), claimed_by=self.holder)
            )
            return airing_id if claimed.rowcount == 1 else None  # type: ignore[attr-defined]

    def _record_missed(self, airing_id: int, commune_id: int, occurrence: SessionOccurrence,
                       now: datetime) -> SessionResult:  # fmt: skip
        note = (
            f"Bỏ lỡ: máy chủ không hoạt động lúc {_when(occurrence.starts_at)}, chỉ chạy lại lúc {_when(now)}, "
            f"quá {self.settings.misfire_grace_s / 60:g} phút cho phép; các bản tin chuyển sang buổi sau."
        )
        with self.db.session() as s:
            airing = s.get_one(Airing, airing_id)
            airing.note = note if not airing.note else f"{note} ({airing.note})"
            airing.status = AiringStatus.MISSED
            system_event(s, "missed", "airing", airing_id, commune_id,
                         {"session": occurrence.name, "starts_at": occurrence.starts_at.isoformat(),
                          "noticed_at": now.isoformat()})  # fmt: skip
        log.warning("airing %s (%s %s) missed", airing_id, occurrence.name, occurrence.starts_at.isoformat())
        return SessionResult(airing_id, AiringStatus.MISSED, note)

    def _compose_and_hand_off(self, airing_id: int, commune_id: int, occurrence: SessionOccurrence,
                              guard: Callable[[], bool] | None) -> SessionResult:  # fmt: skip
        with self.db.session() as s:
            clusters = load_clusters(s, commune_id)
            candidates = load_candidates(s, commune_id, local(occurrence.starts_at).date(), self.uploads_dir,
                                         before=occurrence.starts_at)
        # One reading of the lexicon, and one read of each cached master: its length, then the programme.
        with self.speech.one_reading(commune_id), self.speech.cache.reusing():
            durations, failures = self.renderer.durations(candidates)
            plans, renders = self.renderer.fit_and_render(clusters, candidates, durations, occurrence.max_duration_s)
        # play_at is the session start unless composing ran so late that it has passed: then soon.
        play_at = max(occurrence.starts_at, self.clock.now() + timedelta(seconds=self.settings.prompt_delay_s))
        expires_at = play_at + timedelta(seconds=self.settings.misfire_grace_s)
        programmes = [ClusterProgramme(airing_id, plan.cluster_id, renders[plan.key], play_at, expires_at, plan.priority)
                      for plan in plans if plan.included]  # fmt: skip
        self._write_items(airing_id, plans, programmes)
        if guard is not None and not guard():
            # The scheduler lease was lost while rendering: the new leader airs this session.
            with self.db.session() as s:
                s.execute(update(Airing).where(Airing.id == airing_id).values(composed_at=None, claimed_by=None))
            return SessionResult(airing_id, AiringStatus.PLANNED, "mất quyền điều phối")
        failed = self.handoff.hand_off_many(programmes, keep_issued=True)
        crash_point("fan_out")
        return self._finish(airing_id, commune_id, occurrence, plans, failures, failed, play_at)

    def _write_items(self, airing_id: int, plans: Sequence[ClusterPlan],
                     programmes: Sequence[ClusterProgramme]) -> None:  # fmt: skip
        with self.db.session() as s:
            # An attempt that died after this point (before handing off) left rows behind: start afresh.
            s.execute(delete(AiringItem).where(AiringItem.airing_id == airing_id))
            s.execute(delete(Delivery).where(Delivery.airing_id == airing_id))
            for plan in plans:
                rows = [(i, AiringItemStatus.INCLUDED) for i in plan.included]
                rows += [(i, AiringItemStatus.DEFERRED) for i in plan.deferred]
                for position, (item, status) in enumerate(rows):
                    s.add(AiringItem(airing_id=airing_id, bulletin_id=item.bulletin_id, cluster_id=plan.cluster_id,
                                     position=position, status=status, duration_s=item.duration_s))  # fmt: skip
            for p in programmes:
                s.add(Delivery(airing_id=airing_id, cluster_id=p.cluster_id, audio_sha256=p.audio.sha256,
                               audio_size=p.audio.size, duration_s=p.audio.duration_s, play_at=p.play_at,
                               expires_at=p.expires_at))  # fmt: skip

    def _finish(self, airing_id: int, commune_id: int, occurrence: SessionOccurrence, plans: Sequence[ClusterPlan],
                failures: dict[int, str], failed: dict[int, str], play_at: datetime) -> SessionResult:  # fmt: skip
        included = {item.bulletin_id for plan in plans for item in plan.included}
        deferred = sorted({item.bulletin_id for plan in plans for item in plan.deferred})
        with self.db.session() as s:
            airing = s.get_one(Airing, airing_id)
            earlier_error = (airing.note or "").removeprefix(COMPOSE_ERROR) if (airing.note or "").startswith(
                COMPOSE_ERROR) else None  # fmt: skip
            if not included:
                airing.status = AiringStatus.EMPTY
                airing.note = (f"Không bản tin nào vừa thời lượng buổi phát; {len(deferred)} bản tin chuyển sang buổi sau."
                               if deferred else "Không có bản tin nào để phát.")  # fmt: skip
            elif play_at > occurrence.starts_at:
                # Say why it is late: the server was down, or an earlier attempt failed (a full disk...).
                why = (f"lần soạn trước bị lỗi ({earlier_error})" if earlier_error
                       else "máy chủ không hoạt động lúc đến giờ soạn chương trình")  # fmt: skip
                airing.status = AiringStatus.AIRED_LATE
                airing.note = f"Phát muộn lúc {_when(play_at)} thay vì {_when(occurrence.starts_at)}: {why}."
            else:
                airing.status = AiringStatus.HANDED_OFF
                airing.note = f"Soạn lại được sau lỗi: {earlier_error}" if earlier_error else None
            self._record_failed(s, airing_id, commune_id, failed)
            self._mark_aired(s, airing_id, commune_id, included)
            for plan in plans:
                for item in plan.deferred:
                    system_event(s, "defer", "bulletin", item.bulletin_id, commune_id,
                                 {"airing_id": airing_id, "cluster_id": plan.cluster_id, "session": occurrence.name,
                                  "starts_at": occurrence.starts_at.isoformat(),
                                  "duration_s": round(item.duration_s, 1), "cap_s": occurrence.max_duration_s})  # fmt: skip
            for bulletin_id, reason in failures.items():
                system_event(s, "render_failed", "bulletin", bulletin_id, commune_id,
                             {"airing_id": airing_id, "error": reason})  # fmt: skip
            system_event(s, "compose", "airing", airing_id, commune_id,
                         {"session": occurrence.name, "starts_at": occurrence.starts_at.isoformat(),
                          "status": str(airing.status), "play_at": play_at.isoformat(),
                          "clusters": {str(p.cluster_id): list(p.key) for p in plans if p.included},
                          "deferred": deferred})  # fmt: skip
            status, note = airing.status, airing.note
        log.info("airing %s (%s %s): %s", airing_id, occurrence.name, occurrence.starts_at.isoformat(), status)
        return SessionResult(airing_id, status, note)

    @staticmethod
    def _record_failed(s: Session, airing_id: int, commune_id: int, failed: dict[int, str]) -> None:
        for cluster_id, reason in failed.items():
            s.execute(update(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id == cluster_id)
                      .values(state=DeliveryState.FAILED, error=reason))  # fmt: skip
            system_event(s, "handoff_failed", "airing", airing_id, commune_id,
                         {"cluster_id": cluster_id, "error": reason})  # fmt: skip

    @staticmethod
    def _mark_aired(s: Session, airing_id: int, commune_id: int, included: set[int]) -> None:
        for bulletin in s.scalars(select(Bulletin).where(Bulletin.id.in_(included))):
            if bulletin.status == BulletinStatus.APPROVED:
                bulletin.status = BulletinStatus.AIRED
                system_event(s, "aired", "bulletin", bulletin.id, commune_id, {"airing_id": airing_id})


def _when(moment: datetime) -> str:
    return local(moment).strftime("%H:%M:%S %d/%m/%Y")

