"""Bulletins from the province to its communes (Circular 39/2020/TT-BTTTT, the "source information system").

A province user (an account with no commune: province admin, officer or approver) writes a bulletin
for several or all communes; it waits for the province's approver, who approves it once (four
eyes, ``four_eyes.check_province_self_approval``). On approval each commune gets its own copy, an
ordinary ``Bulletin`` with ``province_bulletin_id`` set (read-only to the commune), so it airs,
is logged and is reported through the same paths as a local bulletin:

- normal: nothing airs yet; the bulletin waits in each commune's inbox ("Bản tin từ cấp trên").
  The commune officer accepts it for dates of their choosing (an approved copy then airs in those
  days' sessions) or declines it with a reason;
- priority: an approved copy airs from the next session on, ahead of local normal bulletins;
- emergency: an approved copy per commune is accepted on the durable emergency path
  (``programming.emergency_batch.accept_emergencies``) in the approval's transaction, one airing
  per commune, then all are put on the air at once, together (one render, one hand-off: every
  order signed and in the outbox before the answer); a restart resumes any that did not go out.

The report (``report``) reads, per commune, the target's state and the deliveries of the copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from broadcaster.clock import Clock, local
from broadcaster.db import utc_now
from broadcaster.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from broadcaster.models import (
    AiringItem,
    AiringItemStatus,
    Bulletin,
    BulletinStatus,
    Commune,
    Delivery,
    DeliveryState,
    Priority,
    ProvinceBulletin,
    ProvinceTarget,
    ProvinceTargetState,
    Role,
    User,
)
from broadcaster.services import scoping
from broadcaster.services.audit import AuditAction, record
from broadcaster.services.bulletins import (
    MAX_REPEAT,
    MAX_WINDOW_DAYS,
    RepeatOutOfRange,
    WindowInvalid,
    check_window_not_past,
    clean_title,
    validate_text,
)
from broadcaster.services.four_eyes import check_province_self_approval
from broadcaster.services.programming.emergency_batch import accept_emergencies
from broadcaster.services.workflow import (
    REASON_MAX_LENGTH,
    EmergencyAiring,
    EmergencyAiringFailed,
    ReasonRequired,
    check_reaches_clusters,
)

OBJECT_TYPE = "province_bulletin"
SENT = (BulletinStatus.APPROVED, BulletinStatus.AIRED)  # what the communes see: approved by the province


class ProvinceUsersOnly(PermissionDenied):
    """Only a province account (one with no commune) writes and approves province bulletins."""

    code = "province_users_only"


class ProvinceBulletinNotFound(NotFound):
    """No such province bulletin, or not one sent to the caller's commune."""

    code = "province_bulletin_not_found"


class ProvinceBulletinWrongState(Conflict):
    """The province bulletin (or its place in a commune) has moved on: the action no longer applies."""

    code = "province_bulletin_wrong_state"


class NoCommunesChosen(InvalidInput):
    """A province bulletin must go to at least one commune of the province."""

    code = "no_communes_chosen"


@dataclass(frozen=True)
class ProvinceBulletinFields:
    """What a province user gives to write a bulletin; no commune ids means every commune."""

    title: str
    text: str
    priority: Priority = Priority.NORMAL
    commune_ids: tuple[int, ...] = ()
    start_date: date | None = None
    end_date: date | None = None
    repeat: int = 1


@dataclass(frozen=True)
class CommuneOutcome:
    """What became of a province bulletin in one commune."""

    commune_id: int
    commune_name: str
    outcome: str  # "aired", "declined" or "pending"
    state: ProvinceTargetState
    bulletin_id: int | None
    decline_reason: str | None
    clusters_played: int
    clusters_missed: int


def is_province_user(user: User) -> bool:
    """True for an account with no commune: it acts for the province."""
    return user.commune_id is None


def require_province_user(user: User, role: Role) -> None:
    """Refuse unless ``user`` is a province account with ``role`` or above."""
    if not is_province_user(user):
        raise ProvinceUsersOnly("Chỉ tài khoản cấp tỉnh mới được soạn và duyệt bản tin của tỉnh.")
    scoping.require_role(user, role)


class ProvinceBulletins:
    """Writing, approving, receiving and reporting province bulletins for one database session."""

    def __init__(self, session: Session, *, clock: Clock,
                 programming: Callable[[], EmergencyAiring] | None = None) -> None:
        self.session = session
        self.clock = clock
        self._programming = programming

    def today(self) -> date:
        """Today's date in the communes' zone."""
        return local(self.clock.now()).date()

    # The province side

    def create(self, actor: User, fields: ProvinceBulletinFields) -> ProvinceBulletin:
        """Write a bulletin for the chosen communes (province officer and up); it waits for approval."""
        require_province_user(actor, Role.OFFICER)
        title, text = clean_title(fields.title), validate_text(fields.text)
        start, end = self._window(fields.start_date, fields.end_date)
        if not 1 <= fields.repeat <= MAX_REPEAT:
            raise RepeatOutOfRange(f"Số lần đọc mỗi buổi phải từ 1 đến {MAX_REPEAT}.")
        communes = self._communes(fields.commune_ids)
        if fields.priority == Priority.EMERGENCY:
            for commune in communes:
                check_reaches_clusters(self.session, commune.id, (), ())
        bulletin = ProvinceBulletin(title=title, text=text, priority=fields.priority, start_date=start,
                                    end_date=end, repeat=fields.repeat, status=BulletinStatus.SUBMITTED,
                                    author_id=actor.id)
        bulletin.targets = [ProvinceTarget(commune_id=c.id) for c in communes]
        self.session.add(bulletin)
        self.session.flush()
        self._record(actor, bulletin, AuditAction.CREATE, {"commune_ids": [c.id for c in communes],
                                                           "priority": str(fields.priority)})
        self.session.commit()
        return bulletin

    def list(self, actor: User) -> Sequence[ProvinceBulletin]:
        """Every province bulletin, newest first (province users)."""
        require_province_user(actor, Role.OFFICER)
        return self.session.scalars(select(ProvinceBulletin).order_by(ProvinceBulletin.id.desc())).all()

    def communes(self, actor: User) -> Sequence[Commune]:
        """The communes a province user may send to: every commune of the province."""
        require_province_user(actor, Role.OFFICER)
        return self.session.scalars(select(Commune).order_by(Commune.name, Commune.id)).all()

    def get(self, actor: User, bulletin_id: int) -> ProvinceBulletin:
        """One province bulletin: any, for a province user; for a commune user, only one sent to it."""
        bulletin = self.session.get(ProvinceBulletin, bulletin_id)
        if bulletin is None or not (is_province_user(actor) or (
                bulletin.status in SENT and self._target(bulletin, actor.commune_id))):
            raise _not_found(bulletin_id)
        return bulletin

    def approve(self, actor: User, bulletin_id: int) -> ProvinceBulletin:
        """Approve once for every commune (province approver); copies go out by priority, emergencies air now."""
        require_province_user(actor, Role.APPROVER)
        bulletin = self.get(actor, bulletin_id)
        emergency = bulletin.priority == Priority.EMERGENCY
        self_approval = (check_province_self_approval(self.session, actor, emergency=emergency)
                         if bulletin.author_id == actor.id else None)
        check_window_not_past(bulletin.end_date, self.today())
        self._claim(bulletin, BulletinStatus.APPROVED, "duyệt", approver_id=actor.id, decided_at=utc_now())
        self._record(actor, bulletin, AuditAction.APPROVE, self_approval)
        airing_ids: list[int] = []
        if bulletin.priority != Priority.NORMAL:
            copies = self._copies(bulletin, bulletin.targets, actor, bulletin.start_date, bulletin.end_date)
            for target in bulletin.targets:
                target.state = ProvinceTargetState.ACCEPTED
            if emergency:  # every commune's intent in this transaction, in a few statements
                airing_ids = accept_emergencies(self.session, copies, self.clock.now())
        if emergency:
            self._record(actor, bulletin, AuditAction.EMERGENCY, {"airing_ids": airing_ids})
        self.session.commit()  # an emergency's airings are accepted here: a restart resumes them
        self._air(actor, bulletin, airing_ids)
        return bulletin

    def reject(self, actor: User, bulletin_id: int, reason: str) -> ProvinceBulletin:
        """Reject a submitted province bulletin with a reason (province approver)."""
        require_province_user(actor, Role.APPROVER)
        bulletin = self.get(actor, bulletin_id)
        reason = _reason(reason, "từ chối")
        self._claim(bulletin, BulletinStatus.REJECTED, "từ chối", approver_id=actor.id, decided_at=utc_now(),
                    rejection_reason=reason)
        self._record(actor, bulletin, AuditAction.REJECT, {"reason": reason})
        self.session.commit()
        return bulletin

    def report(self, actor: User, bulletin_id: int) -> list[CommuneOutcome]:
        """Per commune: aired / declined / pending, and how many clusters played or missed it."""
        bulletin = self.get(actor, bulletin_id)
        targets = bulletin.targets if is_province_user(actor) else [self._target(bulletin, actor.commune_id)]
        copies = [t.bulletin_id for t in targets if t and t.bulletin_id is not None]
        played, missed = self._cluster_outcomes(copies)
        outcomes = []
        for target in targets:
            assert target is not None
            copy = target.bulletin_id
            n_played, n_missed = len(played.get(copy, set())), len(missed.get(copy, set()) - played.get(copy, set()))
            outcome = ("declined" if target.state == ProvinceTargetState.DECLINED
                       else "aired" if n_played else "pending")
            outcomes.append(CommuneOutcome(target.commune_id, target.commune.name, outcome, target.state, copy,
                                           target.decline_reason, n_played, n_missed))
        return outcomes

    # The commune side

    def inbox(self, actor: User, commune_id: int) -> Sequence[ProvinceTarget]:
        """The approved province bulletins sent to a commune, newest first ("Bản tin từ cấp trên")."""
        scoping.visible_commune(self.session, actor, commune_id)
        return self.session.scalars(
            select(ProvinceTarget).join(ProvinceBulletin)
            .where(ProvinceTarget.commune_id == commune_id, ProvinceBulletin.status.in_(SENT))
            .options(selectinload(ProvinceTarget.province_bulletin))
            .order_by(ProvinceBulletin.id.desc())
        ).all()  # fmt: skip

    def accept(self, actor: User, commune_id: int, bulletin_id: int, start_date: date | None = None,
               end_date: date | None = None) -> ProvinceTarget:
        """Air a normal province bulletin in this commune's sessions of the chosen dates (commune officer and up)."""
        target = self._pending(actor, commune_id, bulletin_id)
        bulletin = target.province_bulletin
        start, end = self._window(start_date or max(bulletin.start_date, self.today()), end_date or bulletin.end_date)
        self._claim_target(target, ProvinceTargetState.ACCEPTED, actor)
        copy = self._copies(bulletin, [target], actor, start, end)[0]
        record(self.session, actor=actor, action="accept", object_type=OBJECT_TYPE, object_id=bulletin.id,
               commune_id=target.commune_id, details={"bulletin_id": copy.id, "start_date": start.isoformat(),
                                                      "end_date": end.isoformat()})
        self.session.commit()
        return target

    def decline(self, actor: User, commune_id: int, bulletin_id: int, reason: str) -> ProvinceTarget:
        """Decline a normal province bulletin for this commune, with a reason (commune officer and up)."""
        target = self._pending(actor, commune_id, bulletin_id)
        reason = _reason(reason, "từ chối phát")
        self._claim_target(target, ProvinceTargetState.DECLINED, actor, decline_reason=reason)
        record(self.session, actor=actor, action="decline", object_type=OBJECT_TYPE, object_id=bulletin_id,
               commune_id=target.commune_id, details={"reason": reason})
        self.session.commit()
        return target

    # Helpers

    def _pending(self, actor: User, commune_id: int, bulletin_id: int) -> ProvinceTarget:
        """The commune's place in a normal, approved province bulletin still waiting for its choice."""
        scoping.visible_commune(self.session, actor, commune_id)
        bulletin = self.session.get(ProvinceBulletin, bulletin_id)
        target = self._target(bulletin, commune_id) if bulletin is not None else None
        if bulletin is None or target is None or bulletin.status not in SENT:
            raise _not_found(bulletin_id)
        if bulletin.status != BulletinStatus.APPROVED or bulletin.priority != Priority.NORMAL \
                or target.state != ProvinceTargetState.PENDING:
            raise ProvinceBulletinWrongState(
                f"Bản tin cấp tỉnh số {bulletin.id} không còn chờ xã quyết định.",
                detail=f"status {bulletin.status}, priority {bulletin.priority}, state {target.state}")
        return target

    @staticmethod
    def _target(bulletin: ProvinceBulletin, commune_id: int | None) -> ProvinceTarget | None:
        return next((t for t in bulletin.targets if t.commune_id == commune_id), None)

    def _communes(self, commune_ids: Sequence[int]) -> list[Commune]:
        query = select(Commune).order_by(Commune.id)
        if commune_ids:
            query = query.where(Commune.id.in_(sorted(set(commune_ids))))
        communes = list(self.session.scalars(query).all())
        missing = sorted(set(commune_ids) - {c.id for c in communes})
        if missing:
            raise scoping.commune_not_found(missing[0])
        if not communes:
            raise NoCommunesChosen("Cần chọn ít nhất một xã/phường nhận bản tin.")
        return communes

    def _window(self, start: date | None, end: date | None) -> tuple[date, date]:
        start = start or self.today()
        end = end or start
        if end < start:
            raise WindowInvalid("Ngày kết thúc phát phải sau hoặc bằng ngày bắt đầu.")
        if end - start > timedelta(days=MAX_WINDOW_DAYS):
            raise WindowInvalid(f"Thời gian phát không được dài quá {MAX_WINDOW_DAYS} ngày.")
        check_window_not_past(end, self.today())
        return start, end

    def _copies(self, bulletin: ProvinceBulletin, targets: Sequence[ProvinceTarget], actor: User, start: date,
                end: date) -> Sequence[Bulletin]:
        """Each commune's own approved copy: it airs, is logged and reported like a local bulletin."""
        now = utc_now()
        copies = [Bulletin(commune_id=target.commune_id, title=bulletin.title, text=bulletin.text,
                           priority=bulletin.priority, target_all=True, start_date=start, end_date=end,
                           repeat=bulletin.repeat, status=BulletinStatus.APPROVED, author_id=bulletin.author_id,
                           approver_id=bulletin.approver_id, province_bulletin_id=bulletin.id, submitted_at=now,
                           decided_at=now) for target in targets]  # fmt: skip
        self.session.add_all(copies)
        self.session.flush()  # one batched insert for a whole province, not one round trip per commune
        for target, copy in zip(targets, copies, strict=True):
            target.bulletin_id = copy.id
            record(self.session, actor=actor, action=AuditAction.CREATE, object_type="bulletin", object_id=copy.id,
                   commune_id=target.commune_id, details={"province_bulletin_id": bulletin.id})
        return copies

    def _air(self, actor: User, bulletin: ProvinceBulletin, airing_ids: list[int]) -> None:
        if not airing_ids or self._programming is None:
            return  # without a programming service, the scheduler's resume puts them on the air
        # All communes together: one render, one hand-off; one commune failing does not hold back the others.
        errors = self._programming().air_accepted_emergencies(airing_ids, actor_id=actor.id)
        if errors:
            first = next(iter(errors.values()))
            raise EmergencyAiringFailed(
                f"Đã duyệt bản tin khẩn cấp tỉnh số {bulletin.id} nhưng {len(errors)} xã chưa phát được: "
                f"{first.message} Hệ thống tự thử lại trong thời hạn phát khẩn.",
                detail="; ".join(f"airing {a}: {e.detail or e.code}" for a, e in errors.items()))

    def _cluster_outcomes(self, copies: list[int]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
        played: dict[int, set[int]] = {}
        missed: dict[int, set[int]] = {}
        if not copies:
            return played, missed
        rows = self.session.execute(
            select(AiringItem.bulletin_id, Delivery.cluster_id, Delivery.state)
            .join(Delivery, (Delivery.airing_id == AiringItem.airing_id)
                  & (Delivery.cluster_id == AiringItem.cluster_id))
            .where(AiringItem.bulletin_id.in_(copies), AiringItem.status == AiringItemStatus.INCLUDED)
        ).all()  # fmt: skip
        for bulletin_id, cluster_id, state in rows:
            if state == DeliveryState.PLAYED:
                played.setdefault(bulletin_id, set()).add(cluster_id)
            elif state in (DeliveryState.MISSED, DeliveryState.FAILED):
                missed.setdefault(bulletin_id, set()).add(cluster_id)
        return played, missed

    def _claim(self, bulletin: ProvinceBulletin, status: BulletinStatus, verb: str, **values: Any) -> None:
        """Move a submitted province bulletin on with one conditional UPDATE: two approvers approve once."""
        result = self.session.execute(
            update(ProvinceBulletin).where(ProvinceBulletin.id == bulletin.id,
                                           ProvinceBulletin.status == BulletinStatus.SUBMITTED)
            .values(status=status, **values).execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            self.session.rollback()
            raise ProvinceBulletinWrongState(f"Bản tin cấp tỉnh số {bulletin.id} không còn chờ duyệt, không thể {verb}.")
        self.session.refresh(bulletin)

    def _claim_target(self, target: ProvinceTarget, state: ProvinceTargetState, actor: User, **values: Any) -> None:
        result = self.session.execute(
            update(ProvinceTarget).where(ProvinceTarget.id == target.id,
                                         ProvinceTarget.state == ProvinceTargetState.PENDING)
            .values(state=state, decided_by=actor.id, decided_at=utc_now(), **values)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            self.session.rollback()
            raise ProvinceBulletinWrongState("Xã đã quyết định về bản tin cấp tỉnh này rồi.")
        self.session.refresh(target)

    def _record(self, actor: User, bulletin: ProvinceBulletin, action: AuditAction,
                details: dict[str, Any] | None = None) -> None:
        record(self.session, actor=actor, action=action, object_type=OBJECT_TYPE, object_id=bulletin.id,
               commune_id=None, details=details)


def _not_found(bulletin_id: int) -> ProvinceBulletinNotFound:
    return ProvinceBulletinNotFound(f"Không tìm thấy bản tin cấp tỉnh số {bulletin_id}.",
                                    detail=f"province bulletin {bulletin_id}")


def _reason(reason: str, verb: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX_LENGTH:
        raise ReasonRequired(f"Cần ghi lý do {verb} (tối đa {REASON_MAX_LENGTH} ký tự).")
    return reason


def is_province_copy(bulletin: Bulletin) -> bool:
    """True for a commune's copy of a province bulletin: the commune cannot edit or cancel it."""
    return bulletin.province_bulletin_id is not None

