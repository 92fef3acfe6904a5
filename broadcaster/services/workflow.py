"""The bulletin workflow: submit, approve, reject, cancel, and emergencies.

    draft ──submit──▶ submitted ──approve──▶ approved ──(timetable)──▶ aired | expired
      │                  │ └──reject──▶ rejected
      └──cancel──────────┴──cancel──▶ cancelled ◀──cancel── approved, aired (window open), emergency

Each transition is a conditional UPDATE (see ``claim_in_status``), so two approvers pressing the
button at once approve once. An emergency is approved and then aired at once through the
programming service, which bypasses the timetable and pre-empts whatever is playing; cancelling
it stops it on the speakers.

A bulletin airs in every session of its window (docs/scheduling.md), so leadership may cancel an
``aired`` one while its window is open: it leaves the later sessions. A session programme already
composed and handed off with it (and not started) gets a note and an audit event
``cancel_after_handoff``; once the cancellation is committed, the ``on_recall`` hook (the runtime's
``recall_airing``) composes that programme again without it and hands the replacement to delivery,
or stops the airing where nothing is left.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, BinaryIO, Protocol

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from broadcaster.clock import local
from broadcaster.db import utc_now
from broadcaster.errors import BroadcasterError, Conflict, InvalidInput, ServiceFailure
from broadcaster.faults import crash_point
from broadcaster.models import (
    Airing,
    AiringItem,
    AiringItemStatus,
    AiringKind,
    Bulletin,
    BulletinStatus,
    Cluster,
    Delivery,
    DeliveryState,
    Priority,
    Role,
    User,
)
from broadcaster.services import scoping
from broadcaster.services.audit import AuditAction, record
from broadcaster.services.bulletins import (
    BulletinFields,
    BulletinService,
    check_window_not_past,
    claim_in_status,
    require_author_or,
    require_not_province_copy,
)
from broadcaster.services.four_eyes import check_self_approval
from broadcaster.services.programming.emergency import accept_emergency

REASON_MAX_LENGTH = 2000
# A delivery in one of these states has not played yet: its programme may still go on the air.
UNPLAYED = (DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.RECEIVED, DeliveryState.DOWNLOADED)


class ReasonRequired(InvalidInput):
    """A rejection needs a reason the officer can act on."""

    code = "reason_required"


class NoTargetClusters(Conflict):
    """The bulletin would reach no speaker cluster (the commune has none, or none in its zones)."""

    code = "no_target_clusters"


class AiringWindowOver(Conflict):
    """An aired bulletin whose window has ended has nothing left to cancel."""

    code = "bulletin_window_over"


class EmergencyFinished(Conflict):
    """The emergency already aired everywhere and airs nowhere again: there is nothing to stop."""

    code = "emergency_already_aired"


class EmergencyAiringFailed(ServiceFailure):
    """The emergency is stored and approved, but could not be put on the air."""

    code = "emergency_airing_failed"


class RecallFailed(ServiceFailure):
    """The bulletin is cancelled, but a programme already handed off with it could not be recalled."""

    code = "recall_failed"


# Re-compose a handed-off session airing at these clusters without the bulletins cancelled since
# (airing id, cluster ids, actor id); ``Runtime.recall_airing`` provides it.
RecallAiring = Callable[[int, Sequence[int], int | None], Any]


class EmergencyAiring(Protocol):
    """What the workflow needs from the programming service (``ProgrammingService``)."""

    def air_emergency(self, bulletin_id: int, *, actor_id: int | None = None) -> Any:
        """Compose, render and hand off the emergency at once, pre-empting what plays."""
        ...

    def air_accepted_emergency(self, airing_id: int, *, actor_id: int | None = None) -> Any:
        """Put on the air an emergency whose airing intent committed with its approval."""
        ...

    def air_accepted_emergencies(self, airing_ids: Sequence[int], *,
                                 actor_id: int | None = None) -> dict[int, BroadcasterError]:  # fmt: skip
        """Put many accepted emergencies on the air together (a province's); the airings not on the air, with why."""
        ...

    def emergency_airing(self, bulletin_id: int, *, actor_id: int | None = None) -> Any:
        """The bulletin's emergency airing as it stands, resumed first if its first attempt died."""
        ...

    def stop_emergency(self, bulletin_id: int, *, actor_id: int | None = None) -> Any:
        """Stop an airing emergency on every cluster it went to."""
        ...


@dataclass(frozen=True)
class EmergencyResult:
    """An emergency bulletin and what the programming service answered when airing it."""

    bulletin: Bulletin
    created: bool
    airing: Any


class Workflow:
    """State changes of bulletins for one database session."""

    def __init__(self, bulletins: BulletinService, programming: Callable[[], EmergencyAiring],
                 on_recall: RecallAiring | None = None) -> None:
        self.bulletins = bulletins
        self.session: Session = bulletins.session
        self._programming = programming
        self._on_recall = on_recall

    def submit(self, actor: User, bulletin_id: int) -> Bulletin:
        """Send a draft for approval (its author or an approver) and commit."""
        bulletin = self.bulletins.get(actor, bulletin_id)
        require_author_or(actor, bulletin, Role.APPROVER)
        check_window_not_past(bulletin.end_date, self.bulletins.today())
        claim_in_status(self.session, bulletin, (BulletinStatus.DRAFT,), "gửi duyệt",
                        status=BulletinStatus.SUBMITTED, submitted_at=utc_now())
        self._record(actor, bulletin, AuditAction.SUBMIT)
        self.session.commit()
        return bulletin

    def approve(self, actor: User, bulletin_id: int) -> Bulletin:
        """Approve a submitted bulletin (approver of its commune) and commit; an emergency airs at once."""
        bulletin = self.bulletins.get(actor, bulletin_id)
        scoping.require_role(actor, Role.APPROVER)
        check_window_not_past(bulletin.end_date, self.bulletins.today())
        if bulletin.priority == Priority.EMERGENCY:
            check_reaches_clusters(self.session, bulletin.commune_id, [z.id for z in bulletin.zones],
                                   [c.id for c in bulletin.clusters])
        emergency = bulletin.priority == Priority.EMERGENCY
        self_approval = (check_self_approval(self.session, bulletin.commune_id, actor, emergency=emergency)
                         if bulletin.author_id == actor.id else None)
        claim_in_status(self.session, bulletin, (BulletinStatus.SUBMITTED,), "duyệt",
                        status=BulletinStatus.APPROVED, approver_id=actor.id, decided_at=utc_now())
        self._record(actor, bulletin, AuditAction.APPROVE, self_approval)
        airing_id = None
        if bulletin.priority == Priority.EMERGENCY:
            self._record(actor, bulletin, AuditAction.EMERGENCY)
            airing_id = accept_emergency(self.session, bulletin, self.bulletins.clock.now())
        self.session.commit()  # an emergency is accepted here: its airing intent commits with the approval
        if airing_id is not None:
            self._air(actor, bulletin, airing_id)
        return bulletin

    def reject(self, actor: User, bulletin_id: int, reason: str) -> Bulletin:
        """Reject a submitted bulletin with a reason (approver of its commune) and commit."""
        bulletin = self.bulletins.get(actor, bulletin_id)
        scoping.require_role(actor, Role.APPROVER)
        reason = reason.strip()
        if not reason or len(reason) > REASON_MAX_LENGTH:
            raise ReasonRequired(f"Cần ghi lý do từ chối (tối đa {REASON_MAX_LENGTH} ký tự).")
        claim_in_status(self.session, bulletin, (BulletinStatus.SUBMITTED,), "từ chối",
                        status=BulletinStatus.REJECTED, approver_id=actor.id, decided_at=utc_now(),
                        rejection_reason=reason)
        self._record(actor, bulletin, AuditAction.REJECT, {"reason": reason})
        self.session.commit()
        return bulletin

    def cancel(self, actor: User, bulletin_id: int, reason: str = "") -> Bulletin:
        """Cancel a bulletin, taking it off the sessions still to come (or stop an emergency), and commit.

        Its author or leadership cancels a draft or a submitted one. Once approved, only leadership
        (approver, admin) does: an approved one, an aired one while its window is open, an emergency.
        """
        bulletin = self.bulletins.get(actor, bulletin_id)
        require_not_province_copy(actor, bulletin, "hủy")
        cancellable = [BulletinStatus.DRAFT, BulletinStatus.SUBMITTED]
        if bulletin.status in cancellable:
            require_author_or(actor, bulletin, Role.APPROVER)
        else:
            # Once approved, only the commune leadership takes a bulletin off the air.
            scoping.require_role(actor, Role.APPROVER)
        cancellable.append(BulletinStatus.APPROVED)
        window_open = bulletin.end_date >= self.bulletins.today()
        if bulletin.priority == Priority.EMERGENCY or window_open:
            cancellable.append(BulletinStatus.AIRED)
        elif bulletin.status == BulletinStatus.AIRED:
            raise AiringWindowOver(f"Bản tin số {bulletin.id} đã phát hết thời gian phát (đến "
                                   f"{bulletin.end_date:%d/%m/%Y}), không còn buổi phát nào để hủy.")
        if bulletin.priority == Priority.EMERGENCY and bulletin.status == BulletinStatus.AIRED:
            self._check_still_on_air(bulletin, window_open)
        was = bulletin.status
        claim_in_status(self.session, bulletin, cancellable, "hủy", status=BulletinStatus.CANCELLED)
        details = {"reason": reason.strip()[:REASON_MAX_LENGTH], "was": str(was)}
        self._record(actor, bulletin, AuditAction.CANCEL, details)
        stopping = bulletin.priority == Priority.EMERGENCY and was in (BulletinStatus.APPROVED, BulletinStatus.AIRED)
        if stopping:
            self._record(actor, bulletin, AuditAction.EMERGENCY_STOP)
        handed_off: dict[int, list[int]] = {}
        if was in (BulletinStatus.APPROVED, BulletinStatus.AIRED):
            handed_off = note_cancelled_in_handed_off(self.session, actor, bulletin, self.bulletins.clock.now())
        self.session.commit()
        if stopping:
            try:
                self._programming().stop_emergency(bulletin.id, actor_id=actor.id)
            except BroadcasterError as error:
                raise EmergencyAiringFailed(
                    f"Đã hủy bản tin khẩn số {bulletin.id} nhưng chưa dừng được trên loa: {error.message}",
                    detail=error.detail,
                ) from error
        self._recall(actor, bulletin, handed_off)
        return bulletin

    def _check_still_on_air(self, bulletin: Bulletin, window_open: bool) -> None:
        """``EmergencyFinished`` unless the aired emergency is live somewhere or still has sessions today.

        A finished emergency is history: cancelling it would rewrite "played" as "cancelled".
        """
        from broadcaster.services.programming.emergency import live_emergency_bulletins
        from broadcaster.services.programming.plan import airs_in_sessions_on

        now = self.bulletins.clock.now()
        if bulletin.id in live_emergency_bulletins(self.session, [bulletin.id], now):
            return
        if window_open and airs_in_sessions_on(bulletin, self.bulletins.today()):
            return  # it was asked to air again in today's sessions: cancelling takes it off them
        raise EmergencyFinished(
            f"Bản tin khẩn số {bulletin.id} đã phát xong, không còn gì để dừng hay hủy; "
            "lịch sử phát được giữ nguyên.", detail="no live emergency airing and no session to come",
        )

    def _recall(self, actor: User, bulletin: Bulletin, handed_off: dict[int, list[int]]) -> None:
        """Take the cancelled bulletin out of the programmes already handed off, through the hook."""
        if self._on_recall is None or not handed_off:
            return
        errors: list[BroadcasterError] = []
        for airing_id, cluster_ids in handed_off.items():
            try:
                self._on_recall(airing_id, cluster_ids, actor.id)
            except BroadcasterError as error:  # the other airings must still be recalled
                errors.append(error)
        if errors:
            raise RecallFailed(
                f"Đã hủy bản tin số {bulletin.id} nhưng chưa thu hồi được chương trình đã giao cho loa: "
                f"{errors[0].message}", detail="; ".join(e.detail or e.code for e in errors),
            )

    def send_emergency(self, actor: User, fields: BulletinFields, *, upload: BinaryIO | None = None,
                       upload_filename: str | None = None, idempotency_key: str | None = None,
                       sole_leader_on_duty: bool = False) -> EmergencyResult:
        """Create, approve and air an emergency bulletin at once (approver); a retried key airs nothing twice.

        The sender approves their own bulletin: under four eyes only as the commune's single leader,
        or declaring to be the only one on duty (``sole_leader_on_duty``); the audit event says which.
        """
        commune = scoping.acting_commune(self.session, actor, fields.commune_id)
        scoping.require_role(actor, Role.APPROVER)
        fields = replace(fields, priority=Priority.EMERGENCY, commune_id=commune.id)
        self_approval = check_self_approval(self.session, commune.id, actor, emergency=True,
                                            declared_sole_leader=sole_leader_on_duty)
        check_reaches_clusters(self.session, commune.id, fields.zone_ids, fields.cluster_ids)
        created = self.bulletins.create(actor, fields, upload=upload, upload_filename=upload_filename,
                                        idempotency_key=idempotency_key)
        bulletin = created.bulletin
        if not created.created and bulletin.status != BulletinStatus.DRAFT:
            # A retry: answer with the real airing, put on the air first if its first attempt died.
            return EmergencyResult(bulletin, created=False, airing=self._airing_of(actor, bulletin))
        # (A draft here is a first attempt that died before its approval: it goes on from there.)
        claim_in_status(self.session, bulletin, (BulletinStatus.DRAFT,), "phát khẩn",
                        status=BulletinStatus.APPROVED, submitted_at=utc_now(), approver_id=actor.id,
                        decided_at=utc_now())
        self._record(actor, bulletin, AuditAction.EMERGENCY, self_approval)
        airing_id = accept_emergency(self.session, bulletin, self.bulletins.clock.now())
        self.session.commit()  # accepted: from here on a restart resumes it (see programming.emergency)
        return EmergencyResult(bulletin, created=created.created, airing=self._air(actor, bulletin, airing_id))

    def _air(self, actor: User, bulletin: Bulletin, airing_id: int) -> Any:
        crash_point("accepted")
        try:
            airing = self._programming().air_accepted_emergency(airing_id, actor_id=actor.id)
        except BroadcasterError as error:
            raise self._not_on_air(bulletin, error) from error
        self.session.refresh(bulletin)
        return airing

    def _airing_of(self, actor: User, bulletin: Bulletin) -> Any:
        try:
            airing = self._programming().emergency_airing(bulletin.id, actor_id=actor.id)
            if airing is None and bulletin.status == BulletinStatus.APPROVED:
                airing = self._programming().air_emergency(bulletin.id, actor_id=actor.id)
        except BroadcasterError as error:
            raise self._not_on_air(bulletin, error) from error
        self.session.refresh(bulletin)
        return airing

    @staticmethod
    def _not_on_air(bulletin: Bulletin, error: BroadcasterError) -> EmergencyAiringFailed:
        if isinstance(error, InvalidInput):  # the bulletin itself cannot air: the airing ended failed
            return EmergencyAiringFailed(f"Đã lưu và duyệt bản tin khẩn số {bulletin.id} nhưng không phát được: "
                                         f"{error.message}", detail=error.detail)
        return EmergencyAiringFailed(
            f"Đã lưu và duyệt bản tin khẩn số {bulletin.id} nhưng chưa phát được: {error.message} "
            "Hệ thống tự thử lại trong thời hạn phát khẩn; gửi lại yêu cầu (cùng khóa) để xem kết quả.",
            detail=error.detail)

    def _record(self, actor: User, bulletin: Bulletin, action: AuditAction,
                details: dict[str, Any] | None = None) -> None:
        record(self.session, actor=actor, action=action, object_type="bulletin", object_id=bulletin.id,
               commune_id=bulletin.commune_id, details=details)


def note_cancelled_in_handed_off(session: Session, actor: User, bulletin: Bulletin,
                                 now: datetime) -> dict[int, list[int]]:  # fmt: skip
    """Mark the session airings handed off with ``bulletin`` that have not played yet; their clusters, by airing.

    Each gets a note saying it holds a cancelled bulletin and an audit event
    ``cancel_after_handoff`` (in the caller's transaction). Taking the audio back from the
    speakers is the recall's concern (``Workflow._recall``); until it does, they may still play it.
    """
    rows = session.execute(
        select(Airing, Cluster.id, Cluster.name, Delivery.play_at)
        .join(AiringItem, AiringItem.airing_id == Airing.id)
        .join(Delivery, (Delivery.airing_id == AiringItem.airing_id) & (Delivery.cluster_id == AiringItem.cluster_id))
        .join(Cluster, Cluster.id == Delivery.cluster_id)
        .where(AiringItem.bulletin_id == bulletin.id, AiringItem.status == AiringItemStatus.INCLUDED,
               Airing.kind == AiringKind.SESSION, Delivery.play_at > now, Delivery.state.in_(UNPLAYED))
        .order_by(Airing.id, Cluster.id)
    ).all()  # fmt: skip
    airings: dict[int, Airing] = {}
    clusters: dict[int, list[tuple[int, str]]] = defaultdict(list)
    first_play: dict[int, datetime] = {}
    for airing, cluster_id, cluster_name, play_at in rows:
        airings[airing.id] = airing
        clusters[airing.id].append((cluster_id, cluster_name))
        first_play[airing.id] = min(play_at, first_play.get(airing.id, play_at))
    for airing_id, airing in airings.items():
        names = ", ".join(f"«{name}»" for _, name in clusters[airing_id])
        line = (f"Chương trình có bản tin đã hủy: số {bulletin.id} «{bulletin.title}», hủy lúc "
                f"{local(now):%H:%M %d/%m/%Y} sau khi đã giao cho cụm loa {names}; "
                "loa vẫn phát bản tin này nếu chương trình chưa được thu hồi.")
        airing.note = f"{airing.note}; {line}" if airing.note else line
        record(session, actor=actor, action=AuditAction.CANCEL_AFTER_HANDOFF, object_type="airing",
               object_id=airing_id, commune_id=airing.commune_id,
               details={"bulletin_id": bulletin.id, "cluster_ids": [c for c, _ in clusters[airing_id]],
                        "play_at": first_play[airing_id].isoformat()})  # fmt: skip
    return {airing_id: [c for c, _ in clusters[airing_id]] for airing_id in airings}


def check_reaches_clusters(session: Session, commune_id: int, zone_ids: Sequence[int],
                           cluster_ids: Sequence[int]) -> None:
    """``NoTargetClusters`` unless the targets (none = the whole commune) include a cluster of the commune."""
    in_commune = (Cluster.commune_id == commune_id) & Cluster.retired_at.is_(None)
    if zone_ids or cluster_ids:
        in_commune = in_commune & or_(Cluster.zone_id.in_(list(zone_ids)), Cluster.id.in_(list(cluster_ids)))
    if not session.scalar(select(exists().where(in_commune))):
        raise NoTargetClusters("Bản tin không tới được cụm loa nào (xã hoặc thôn/bản được chọn chưa có cụm loa).")
