"""Emergencies: the same path as a session, at once, pre-empting whatever plays, durable once accepted.

An emergency is *accepted* when its approval commits; ``accept_emergency`` writes, in that same
transaction, the airing's intent: a ``planned`` airing and one item per target cluster. From
then on it is never lost:

- ``EmergencyAirer.air`` claims the airing (``composed_at``, ``claimed_by`` = this process),
  renders the bulletin between chimes, hands it to every target cluster with ``play_at`` a few
  seconds from now and priority ``emergency`` (agents interrupt what they play), and marks the
  airing handed off. A cluster that already holds an order keeps it; the others get the
  programme their Delivery row names (``resume.remaining_programmes``): nothing is composed
  twice, nothing stopped and replayed.
- If rendering fails on our side (a full disk, no engine), the claim is released and the
  airing stays planned, with the error in its note, to be tried again.
- ``EmergencyAirer.resume_all`` is the owner after a restart: the scheduler's leader runs it at
  once when it takes the lease and then every ``emergency_retry_s``. It resumes every planned
  emergency nobody works on (never claimed, claimed by a previous life of this node, which is
  dead, or by another node silent for ``CLAIM_STALE_S``).
- An emergency past its validity window (``misfire_grace_s`` after acceptance) is ``missed``;
  one that can never air (its recording is gone, no cluster left) is ``failed``; both with the
  reason in the airing's note and an audit event.

``stop_emergency`` takes it off the air (a cancel), where it is still *live*: accepted and not
handed off yet, waiting to play, or playing. What already played stays played, in the airing and
in the broadcast log; an emergency with nothing live has nothing to stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, selectinload

from broadcaster.clock import Clock, local
from broadcaster.db import Database, aware_utc
from broadcaster.errors import BroadcasterError, Conflict, InvalidInput, NotFound
from broadcaster.faults import crash_point
from broadcaster.models import (
    Airing,
    AiringItem,
    AiringItemStatus,
    AiringKind,
    AiringStatus,
    Bulletin,
    BulletinStatus,
    Delivery,
    DeliveryState,
    Priority,
)
from broadcaster.node_identity import NodeIdentity
from broadcaster.resource_faults import as_resource_error
from broadcaster.services.delivery_log import failure_text
from broadcaster.services.handoff import ClusterProgramme, ProgrammeHandoff
from broadcaster.services.programming.plan import AIRABLE, candidate_from, load_clusters, system_event
from broadcaster.services.programming.resume import cluster_pieces, issued_cluster_ids, remaining_programmes

if TYPE_CHECKING:
    from broadcaster.speech import SpeechService

log = logging.getLogger(__name__)

EMERGENCY_SESSION = "emergency"  # Airing.session_name of emergencies (no timetable session may use it)
# Not played yet at a cluster: waiting, on its way, or (with played_at set) playing now.
LIVE_STATES = (DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.RECEIVED, DeliveryState.DOWNLOADED)
# A "played" report may lag the end of the audio by this much.
PLAYING_GRACE_S = 15.0
CLAIM_STALE_S = 120.0  # another node's claim this old is taken over (it renders in seconds, or died)
# Emergencies put on the air at once by one process; the others wait their turn (holding no database
# connection). A burst of a hundred (every commune of a province at the same moment) then queues
# instead of a hundred threads fighting for the connections and the write lock, and each still
# airs in its turn, within a second or two.
AIRING_AT_ONCE = 4
ACCEPTED_GRACE_S = 2.0  # an emergency accepted this recently is its request's to air: the resumer leaves it


class EmergencyBulletinNotFound(NotFound):
    """No bulletin with that id."""

    code = "bulletin_not_found"


class BulletinNotAirable(Conflict):
    """Only an approved bulletin can be put on the air."""

    code = "bulletin_not_airable"


class NoTargetClusters(Conflict):
    """The bulletin targets no cluster of its commune, so there is nowhere to air it."""

    code = "no_target_clusters"


@dataclass(frozen=True)
class EmergencyAiring:
    """An emergency's airing as it stands: handed off (when, which audio, where) or still on its way."""

    airing_id: int
    status: str  # planned (being put on the air, or to be retried), handed_off, missed, failed, cancelled...
    cluster_ids: tuple[int, ...]
    play_at: datetime | None = None
    audio_sha256: str | None = None
    duration_s: float | None = None
    failed_cluster_ids: tuple[int, ...] = ()
    note: str | None = None


def accept_emergency(session: Session, bulletin: Bulletin, now: datetime) -> int:
    """Write the emergency's airing intent in the caller's transaction (commit it with the approval); its id."""
    cluster_ids = emergency_targets(session, bulletin)
    if not cluster_ids:
        raise NoTargetClusters(f"Bản tin số {bulletin.id} không nhắm tới cụm loa nào của xã; không có nơi để phát.")
    airing = Airing(commune_id=bulletin.commune_id, kind=AiringKind.EMERGENCY, session_name=EMERGENCY_SESSION,
                    starts_at=now, max_duration_s=0.0, created_at=now)  # fmt: skip
    session.add(airing)
    session.flush()
    # One multi-row insert, not a thousand ORM objects: a province-wide emergency names every cluster.
    session.execute(insert(AiringItem), [
        {"airing_id": airing.id, "bulletin_id": bulletin.id, "cluster_id": cluster_id, "position": 0,
         "status": AiringItemStatus.INCLUDED} for cluster_id in cluster_ids])  # fmt: skip
    return airing.id


def emergency_targets(session: Session, bulletin: Bulletin) -> tuple[int, ...]:
    """The commune's clusters the bulletin targets (whole commune, its zones, or named clusters)."""
    candidate = candidate_from(bulletin, Path())
    return tuple(c.id for c in load_clusters(session, bulletin.commune_id) if candidate.targets(c.id, c.zone_id))


def latest_emergency_airing(session: Session, bulletin_id: int) -> int | None:
    """The newest emergency airing of a bulletin, if it has one."""
    return session.scalar(
        select(Airing.id).where(Airing.kind == AiringKind.EMERGENCY,
                                Airing.id.in_(select(AiringItem.airing_id).where(AiringItem.bulletin_id == bulletin_id)))
        .order_by(Airing.id.desc()).limit(1))  # fmt: skip


def describe_emergency(db: Database, airing_id: int) -> EmergencyAiring:
    """The airing as stored now."""
    # Columns, not objects: the answer to a province-wide emergency names thousands of clusters.
    with db.session() as s:
        airing = s.get(Airing, airing_id)
        if airing is None:
            raise NotFound(f"Không có lượt phát khẩn số {airing_id}.", code="airing_not_found")
        cluster_ids = tuple(s.scalars(select(AiringItem.cluster_id).distinct().where(
            AiringItem.airing_id == airing_id, AiringItem.cluster_id.is_not(None)).order_by(AiringItem.cluster_id)))
        first = s.execute(select(Delivery.play_at, Delivery.audio_sha256, Delivery.duration_s)
                          .where(Delivery.airing_id == airing_id)
                          .order_by(Delivery.play_at, Delivery.id).limit(1)).first()  # fmt: skip
        failed = tuple(s.scalars(select(Delivery.cluster_id).where(
            Delivery.airing_id == airing_id, Delivery.state == DeliveryState.FAILED).order_by(Delivery.cluster_id)))
        return EmergencyAiring(
            airing.id, str(airing.status), cluster_ids,
            play_at=aware_utc(first.play_at) if first else None, audio_sha256=first.audio_sha256 if first else None,
            duration_s=first.duration_s if first else None, failed_cluster_ids=failed, note=airing.note,
        )


class EmergencyAirer:
    """Puts accepted emergencies on the air, resumes the ones a dead process left, gives up with a reason."""

    def __init__(self, db: Database, speech: SpeechService, handoff: ProgrammeHandoff, clock: Clock, *,
                 node: NodeIdentity, holder: str, uploads_dir: Path, delay_s: float, window_s: float) -> None:
        self.db = db
        self.speech = speech
        self.handoff = handoff
        self.clock = clock
        self.node = node
        self.holder = holder
        self.uploads_dir = uploads_dir
        self.delay_s = delay_s
        self.window_s = window_s  # accepted + this: past it, the emergency is missed
        self.turns = threading.BoundedSemaphore(AIRING_AT_ONCE)

    def air(self, airing_id: int, *, actor_id: int | None = None) -> EmergencyAiring:
        """Put an accepted emergency on the air (or finish what a dead process began); idempotent."""
        with self.turns:
            return self.air_unqueued(airing_id, actor_id=actor_id)

    def air_unqueued(self, airing_id: int, *, actor_id: int | None = None) -> EmergencyAiring:
        """``air`` for a caller that already has its turn (a batch)."""
        now = self.clock.now()
        with self.db.session() as s:
            airing = s.get(Airing, airing_id)
            if airing is None or airing.kind != AiringKind.EMERGENCY:
                raise NotFound(f"Không có lượt phát khẩn số {airing_id}.", code="airing_not_found")
            status, deadline = airing.status, self.deadline(airing.created_at)
        if status != AiringStatus.PLANNED:
            return describe_emergency(self.db, airing_id)
        if now >= deadline:
            self.give_up(airing_id, AiringStatus.MISSED, "emergency_window_over",
                         f"Quá thời hạn phát khẩn (tới {_when(deadline)}) mà máy chủ chưa phát được.")
            return describe_emergency(self.db, airing_id)
        if not self._claim(airing_id, now):
            return describe_emergency(self.db, airing_id)  # another thread or process is on it
        return self.air_claimed(airing_id, now, deadline, actor_id=actor_id)

    def air_claimed(self, airing_id: int, now: datetime, deadline: datetime, *,
                    actor_id: int | None = None) -> EmergencyAiring:
        """Put on the air an emergency this process has claimed; a failure for now releases the claim."""
        try:
            return self._put_on_air(airing_id, now, actor_id)
        except InvalidInput as error:  # the bulletin itself cannot be spoken or played: never will be
            self.give_up(airing_id, AiringStatus.FAILED, error.code, error.message)
            raise
        except BaseException as error:
            self.release(airing_id, error, deadline)
            raise

    def deadline(self, created_at: datetime) -> datetime:
        """When an emergency accepted at ``created_at`` is missed if it is not on the air yet."""
        return created_at + timedelta(seconds=self.window_s)

    def resume_all(self) -> list[int]:
        """Resume every planned emergency nobody works on (the owner after a restart); the airings resumed."""
        now = self.clock.now()
        with self.db.session() as s:
            planned = list(s.scalars(select(Airing.id).where(
                Airing.kind == AiringKind.EMERGENCY, Airing.status == AiringStatus.PLANNED,
                Airing.created_at <= now - timedelta(seconds=ACCEPTED_GRACE_S))))  # fmt: skip
        resumed: list[int] = []
        for airing_id in planned:
            try:
                if self.resume(airing_id).status != str(AiringStatus.PLANNED):
                    resumed.append(airing_id)
            except BroadcasterError as error:
                log.error("emergency airing %s not on the air yet: [%s] %s", airing_id, error.code, error.message)
            except Exception:  # noqa: BLE001 - one emergency's failure must not keep the others off the air
                log.exception("emergency airing %s not on the air yet", airing_id)
        return resumed

    def resume(self, airing_id: int) -> EmergencyAiring:
        """Air a planned emergency unless a live process is on it (a claim by a dead one is taken back)."""
        stale = self.clock.now() - timedelta(seconds=CLAIM_STALE_S)
        with self.db.session() as s:
            airing = s.get(Airing, airing_id)
            if airing is not None and airing.status == AiringStatus.PLANNED and airing.composed_at is not None:
                holder = airing.claimed_by or ""
                if (holder != self.holder and self.node.owns(holder)) or airing.composed_at <= stale:
                    log.warning("emergency airing %s was left half done by %s, which is gone: resuming",
                                airing_id, holder)
                    airing.composed_at = airing.claimed_by = None
        return self.air(airing_id)

    def _claim(self, airing_id: int, now: datetime) -> bool:
        with self.db.session() as s:
            claimed = s.execute(update(Airing).where(
                Airing.id == airing_id, Airing.status == AiringStatus.PLANNED, Airing.composed_at.is_(None))
                .values(composed_at=now, claimed_by=self.holder))  # fmt: skip
            return claimed.rowcount == 1  # type: ignore[attr-defined]

    def _put_on_air(self, airing_id: int, now: datetime, actor_id: int | None) -> EmergencyAiring:
        started = time.monotonic()
        with self.db.session() as s:
            airing = s.get_one(Airing, airing_id)
            targets = sorted({i.cluster_id for i in airing.items if i.cluster_id is not None})
            bulletin_id = airing.items[0].bulletin_id if airing.items else None
            bulletin = s.scalar(select(Bulletin).where(Bulletin.id == bulletin_id)
                                .options(selectinload(Bulletin.zones), selectinload(Bulletin.clusters)))  # fmt: skip
            if bulletin is None or bulletin.status not in AIRABLE:
                raise BulletinNotAirable(f"Bản tin khẩn của lượt phát số {airing_id} không còn được duyệt.",
                                         detail=f"bulletin {bulletin_id}: {bulletin.status if bulletin else 'gone'}")
            commune_id = airing.commune_id
            issued = issued_cluster_ids(s, airing_id)
            recorded = set(s.scalars(select(Delivery.cluster_id).where(Delivery.airing_id == airing_id)))
            pieces, _priority = cluster_pieces(s, airing_id, targets[0], self.uploads_dir) if targets else ([], None)
        resumed = bool(issued or recorded)
        programmes = remaining_programmes(self.db, self.speech, airing_id, now, delay_s=self.delay_s,
                                          uploads_dir=self.uploads_dir)  # fmt: skip
        fresh = [c for c in targets if c not in issued and c not in recorded]
        if fresh:
            crash_point("rendering")
            audio = self.speech.render_programme(pieces, chime=True)
            # Rendering took a moment: the agents still get ``delay_s`` to fetch the audio after it.
            play_at = now + timedelta(seconds=self.delay_s + (time.monotonic() - started))
            expires_at = play_at + timedelta(seconds=self.window_s)
            new = [ClusterProgramme(airing_id, c, audio, play_at, expires_at, Priority.EMERGENCY) for c in fresh]
            self.record_deliveries(new)
            programmes += new
        if self._cancelled(airing_id):
            return describe_emergency(self.db, airing_id)  # cancelled while rendering: nothing goes out
        # One batch: a commune-wide emergency to hundreds of clusters must not wait on one commit per order.
        refused = self.handoff.hand_off_many(programmes, keep_issued=True) if programmes else {}
        crash_point("fan_out")
        if not self._finish(airing_id, bulletin_id, commune_id, targets, refused, resumed, actor_id):
            # Cancelled between the check and the hand-off: the stop went out before our orders.
            self.handoff.stop(airing_id, [p.cluster_id for p in programmes])
        return describe_emergency(self.db, airing_id)

    def _cancelled(self, airing_id: int) -> bool:
        with self.db.session() as s:
            return s.scalar(select(Airing.status).where(Airing.id == airing_id)) != AiringStatus.PLANNED

    def record_deliveries(self, programmes: list[ClusterProgramme]) -> None:
        """Write each programme's ``Delivery`` row (what, when, where) in one multi-row insert, before any order."""
        with self.db.session() as s:
            s.execute(insert(Delivery), [
                {"airing_id": p.airing_id, "cluster_id": p.cluster_id, "audio_sha256": p.audio.sha256,
                 "audio_size": p.audio.size, "duration_s": p.audio.duration_s, "play_at": p.play_at,
                 "expires_at": p.expires_at} for p in programmes])  # fmt: skip

    def _finish(self, airing_id: int, bulletin_id: int | None, commune_id: int, targets: list[int],
                refused: dict[int, str], resumed: bool, actor_id: int | None) -> bool:  # fmt: skip
        """Mark the airing handed off (False if it was cancelled meanwhile), its failures and its bulletin aired."""
        with self.db.session() as s:
            airing = s.get_one(Airing, airing_id)
            if airing.status != AiringStatus.PLANNED:
                return False
            for cluster_id, error in refused.items():
                s.execute(update(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id == cluster_id)
                          .values(state=DeliveryState.FAILED, error=error))  # fmt: skip
            play_at = s.scalar(select(Delivery.play_at).where(Delivery.airing_id == airing_id)
                               .order_by(Delivery.play_at).limit(1))  # fmt: skip
            airing.status = AiringStatus.HANDED_OFF
            if play_at is not None:
                airing.starts_at = play_at
            if resumed:
                airing.note = "Tiếp tục phát sau khi máy chủ khởi động lại; cụm loa đã nhận lệnh không nhận lại."
            s.execute(update(Bulletin).where(Bulletin.id == bulletin_id, Bulletin.status == BulletinStatus.APPROVED)
                      .values(status=BulletinStatus.AIRED))  # fmt: skip
            system_event(s, "compose", "airing", airing_id, commune_id,
                         {"bulletin_id": bulletin_id, "play_at": play_at.isoformat() if play_at else None,
                          "clusters": targets, "failed_clusters": sorted(refused), "resumed": resumed,
                          "priority": str(Priority.EMERGENCY)}, actor_id=actor_id)  # fmt: skip
        return True

    def release(self, airing_id: int, error: BaseException, deadline: datetime) -> None:
        """Give up this process's claim after a failure for now, the reason in the note: the resume retries it."""
        reason = error.message if isinstance(error, BroadcasterError) else f"{type(error).__name__}: {error}"
        note = f"Chưa phát được lúc {_when(self.clock.now())}: {reason}. Sẽ thử lại tới {_when(deadline)}."
        log.error("emergency airing %s: %s", airing_id, reason)
        try:
            with self.db.session() as s:
                s.execute(update(Airing).where(Airing.id == airing_id, Airing.claimed_by == self.holder)
                          .values(composed_at=None, claimed_by=None, note=note))  # fmt: skip
        except Exception as problem:  # noqa: BLE001 - the database may be what failed; the claim then goes stale instead
            fault = as_resource_error(problem)
            if fault is None:
                log.exception("could not release the claim on emergency airing %s", airing_id)
            else:
                log.warning("could not release the claim on emergency airing %s: [%s] %s", airing_id, fault.code,
                            fault.detail)

    def give_up(self, airing_id: int, status: AiringStatus, code: str, reason: str) -> None:
        """End an emergency that cannot air: its status, the reason in its note, its deliveries and the audit."""
        with self.db.session() as s:
            airing = s.get_one(Airing, airing_id)
            if airing.status != AiringStatus.PLANNED:
                return
            last = f" Lần thử cuối: {airing.note}" if airing.note else ""
            airing.status, airing.note = status, f"{reason}{last}"
            airing.composed_at = airing.claimed_by = None
            issued = issued_cluster_ids(s, airing_id)
            if issued:  # some clusters got their order before the end: they air it; only the others did not
                airing.status = AiringStatus.HANDED_OFF
                airing.note = f"{airing.note} Các cụm loa đã nhận lệnh trước đó vẫn phát."
            state = DeliveryState.MISSED if status == AiringStatus.MISSED else DeliveryState.FAILED
            s.execute(update(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id.not_in(issued),
                                             Delivery.state == DeliveryState.PENDING)
                      .values(state=state, error=failure_text(code, reason)))  # fmt: skip
            system_event(s, str(status), "airing", airing_id, airing.commune_id,
                         {"code": code, "reason": airing.note, "kind": "emergency"})
        log.error("emergency airing %s %s: %s", airing_id, status, reason)


def is_live(delivery: Delivery, now: datetime) -> bool:
    """Whether the airing at this cluster may still sound: waiting to play, or playing right now."""
    if delivery.state not in LIVE_STATES or now >= delivery.expires_at:
        return False
    if delivery.played_at is None:
        return True
    return now < delivery.played_at + timedelta(seconds=delivery.duration_s + PLAYING_GRACE_S)


def _emergency_airings(s: Session, bulletin_ids: Iterable[int]) -> list[tuple[int, Airing]]:
    rows = s.execute(
        select(AiringItem.bulletin_id, Airing).join(Airing, Airing.id == AiringItem.airing_id)
        .where(Airing.kind == AiringKind.EMERGENCY, AiringItem.bulletin_id.in_(list(bulletin_ids)),
               Airing.status.in_((AiringStatus.PLANNED, AiringStatus.HANDED_OFF)))
        .options(selectinload(Airing.deliveries))
    ).unique().all()  # fmt: skip
    seen: dict[tuple[int, int], Airing] = {(bulletin_id, airing.id): airing for bulletin_id, airing in rows}
    return [(bulletin_id, airing) for (bulletin_id, _), airing in seen.items()]


def live_emergency_bulletins(s: Session, bulletin_ids: Iterable[int], now: datetime) -> set[int]:
    """The bulletins among ``bulletin_ids`` with an emergency airing still live at some cluster."""
    return {bulletin_id for bulletin_id, airing in _emergency_airings(s, bulletin_ids)
            if airing.status == AiringStatus.PLANNED or any(is_live(delivery, now) for delivery in airing.deliveries)}


def stop_emergency(
    db: Database, handoff: ProgrammeHandoff, bulletin_id: int, now: datetime, *, actor_id: int | None = None
) -> list[int]:
    """Stop the bulletin's emergency airings where they are still live; the airing ids stopped.

    Only the live clusters are stopped and marked cancelled. A cluster that played keeps "played";
    an airing that played somewhere keeps its status and gains a note, one that never sounded
    anywhere becomes cancelled.
    """
    with db.session() as s:
        targets = []
        for _, airing in _emergency_airings(s, [bulletin_id]):
            live = tuple(d.cluster_id for d in airing.deliveries if is_live(d, now))
            sounded = any(d.state == DeliveryState.PLAYED or d.played_at is not None for d in airing.deliveries)
            # Accepted but not handed off yet (rendering, or waiting for the resumer): cancelling it is the stop.
            if live or airing.status == AiringStatus.PLANNED:
                targets.append((airing.id, airing.commune_id, live, sounded))
    for airing_id, commune_id, cluster_ids, sounded in targets:
        withdraw_airing(db, handoff, airing_id, commune_id, cluster_ids,
                        note=f"Dừng phát lúc {local(now):%H:%M:%S %d/%m/%Y}.", details={"bulletin_id": bulletin_id},
                        actor_id=actor_id, keep_status=sounded)
    return [airing_id for airing_id, *_ in targets]


def withdraw_airing(db: Database, handoff: ProgrammeHandoff, airing_id: int, commune_id: int,
                    cluster_ids: Sequence[int], *, note: str, details: dict[str, object],
                    actor_id: int | None = None, keep_status: bool = False) -> None:
    """Stop an airing at these clusters, where it waits or plays, and record it: their deliveries become
    cancelled (one that played stays played), the airing gains ``note`` and becomes cancelled, unless
    ``keep_status`` (it sounded somewhere: its history is not rewritten)."""
    # Stop on the speakers first: if that fails, the log must not claim it stopped. An emergency still
    # being rendered has no cluster yet: its cancel alone keeps it off the air.
    if cluster_ids:
        handoff.stop(airing_id, cluster_ids)
    with db.session() as s:
        previous = s.scalar(select(Airing.note).where(Airing.id == airing_id))
        values: dict[str, object] = {"note": f"{previous}; {note}" if previous else note}
        if not keep_status:
            values["status"] = AiringStatus.CANCELLED
        s.execute(update(Airing).where(Airing.id == airing_id).values(**values))
        s.execute(update(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id.in_(list(cluster_ids)),
                                         Delivery.state.in_(LIVE_STATES))
                  .values(state=DeliveryState.CANCELLED))  # fmt: skip
        system_event(s, "stop", "airing", airing_id, commune_id, {**details, "clusters": list(cluster_ids)},
                     actor_id=actor_id)


def _when(moment: datetime) -> str:
    return local(moment).strftime("%H:%M:%S %d/%m/%Y")

