"""Many emergencies at once: a province-wide emergency is one accepted airing per commune, aired together.

``accept_emergencies`` writes the intents of many approved emergency copies in the caller's
transaction (commit them with the approval), as ``emergency.accept_emergency`` does for one, in a
few statements: every airing in one batched insert, every item in one multi-row insert.

``air_accepted`` puts them on the air with the guarantees ``EmergencyAirer.air`` gives each one,
the work shared instead of repeated a hundred times:

- one UPDATE claims every airing still planned and unclaimed; one that another thread or process
  is on is left to it, as ``air`` leaves it;
- a claimed airing that already has deliveries or orders (an earlier attempt died half way) is
  finished alone by ``EmergencyAirer.air_claimed``, which resumes it from the outbox;
- each distinct programme is rendered once, and within the batch the audio cache reads and
  verifies each file once (``AudioCache.reusing``): copies with the same text, voice and reading
  have the same masters and programme (same content hash);
- every ``Delivery`` row is one insert, every order goes through one ``hand_off_many`` (signed and
  in the outbox, a few hundred per transaction), all with one play time, so the communes start
  together; the airings are marked handed off in one transaction.

A render that fails on our side releases the claims of the airings that needed it (the resume
retries them); one that can never work (``InvalidInput``) fails them with the reason, as for one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from broadcaster.errors import BroadcasterError, InvalidInput, ServiceFailure
from broadcaster.faults import crash_point
from broadcaster.models import (
    Airing,
    AiringItem,
    AiringItemStatus,
    AiringKind,
    AiringStatus,
    Bulletin,
    BulletinStatus,
    Cluster,
    Delivery,
    DeliveryOrder,
    DeliveryState,
    Priority,
)
from broadcaster.resource_faults import public_error
from broadcaster.services.handoff import ClusterProgramme
from broadcaster.services.programming.emergency import (
    EMERGENCY_SESSION,
    BulletinNotAirable,
    EmergencyAirer,
    NoTargetClusters,
    emergency_targets,
)
from broadcaster.services.programming.plan import AIRABLE, candidate_from, system_event

if TYPE_CHECKING:
    from broadcaster.speech import ProgrammePiece, RenderedAudio

log = logging.getLogger(__name__)


class EmergencyNotAired(ServiceFailure):
    """An emergency of the batch could not be put on the air now (an unexpected error; the resume retries)."""

    code = "emergency_not_aired"


def accept_emergencies(session: Session, bulletins: Sequence[Bulletin], now: datetime) -> list[int]:
    """Write the intents of many emergencies in the caller's transaction (one airing each); their ids, in order."""
    communes = {b.commune_id for b in bulletins}
    clusters: dict[int, list[int]] = {commune_id: [] for commune_id in communes}
    for cluster_id, commune_id in session.execute(
            select(Cluster.id, Cluster.commune_id)
            .where(Cluster.commune_id.in_(communes), Cluster.retired_at.is_(None)).order_by(Cluster.id)):  # fmt: skip
        clusters[commune_id].append(cluster_id)
    targets = []
    for bulletin in bulletins:
        # A whole-commune copy (what the province sends) targets every cluster; otherwise the usual rules.
        found = tuple(clusters[bulletin.commune_id]) if bulletin.target_all else emergency_targets(session, bulletin)
        if not found:
            raise NoTargetClusters(f"Bản tin số {bulletin.id} không nhắm tới cụm loa nào của xã; không có nơi để phát.")
        targets.append(found)
    airings = [Airing(commune_id=b.commune_id, kind=AiringKind.EMERGENCY, session_name=EMERGENCY_SESSION,
                      starts_at=now, max_duration_s=0.0, created_at=now) for b in bulletins]  # fmt: skip
    session.add_all(airings)
    session.flush()  # one batched INSERT ... RETURNING for all of them
    session.execute(insert(AiringItem), [
        {"airing_id": airing.id, "bulletin_id": bulletin.id, "cluster_id": cluster_id, "position": 0,
         "status": AiringItemStatus.INCLUDED}
        for airing, bulletin, found in zip(airings, bulletins, targets, strict=True) for cluster_id in found])  # fmt: skip
    return [airing.id for airing in airings]


def air_accepted(airer: EmergencyAirer, airing_ids: Sequence[int], *,
                 actor_id: int | None = None) -> dict[int, BroadcasterError]:  # fmt: skip
    """Put many accepted emergencies on the air together; the airings not on the air now, with why."""
    with airer.turns:  # one turn for the batch; a late or half-done airing below is aired inside it
        return _air_accepted(airer, airing_ids, actor_id)


def _air_accepted(airer: EmergencyAirer, airing_ids: Sequence[int], actor_id: int | None) -> dict[int, BroadcasterError]:
    now = airer.clock.now()
    errors: dict[int, BroadcasterError] = {}
    with airer.db.session() as s:
        planned = {airing_id: created_at for airing_id, created_at in s.execute(
            select(Airing.id, Airing.created_at).where(
                Airing.id.in_(list(airing_ids)), Airing.kind == AiringKind.EMERGENCY,
                Airing.status == AiringStatus.PLANNED))}  # fmt: skip
    late = [airing_id for airing_id, created_at in planned.items() if now >= airer.deadline(created_at)]
    for airing_id in late:  # past its window: recorded missed, with the reason, as ``air`` does
        airer.air_unqueued(airing_id, actor_id=actor_id)
    claimed = _claim(airer, [airing_id for airing_id in planned if airing_id not in late], now)
    with airer.db.session() as s:
        begun = set(s.scalars(select(Delivery.airing_id).distinct().where(Delivery.airing_id.in_(claimed))))
        begun |= set(s.scalars(select(DeliveryOrder.airing_id).distinct().where(DeliveryOrder.airing_id.in_(claimed))))
    for airing_id in sorted(begun):  # an earlier attempt handed some off: resumed from the outbox, alone
        try:
            airer.air_claimed(airing_id, now, airer.deadline(planned[airing_id]), actor_id=actor_id)
        except Exception as error:  # noqa: BLE001 - one commune's failure must not keep the others off the air
            errors[airing_id] = _public(error)
    fresh = [airing_id for airing_id in claimed if airing_id not in begun]
    if fresh:
        errors.update(_air_fresh(airer, fresh, {a: airer.deadline(planned[a]) for a in fresh}, now, actor_id))
    return errors


def _claim(airer: EmergencyAirer, airing_ids: list[int], now: datetime) -> list[int]:
    """Claim, in one statement, the airings nobody works on; the ones this process now holds."""
    if not airing_ids:
        return []
    with airer.db.session() as s:
        return sorted(s.scalars(
            update(Airing).where(Airing.id.in_(airing_ids), Airing.status == AiringStatus.PLANNED,
                                 Airing.composed_at.is_(None))
            .values(composed_at=now, claimed_by=airer.holder).returning(Airing.id)
            .execution_options(synchronize_session=False)))  # fmt: skip


def _air_fresh(airer: EmergencyAirer, airing_ids: list[int], deadlines: dict[int, datetime], now: datetime,
               actor_id: int | None) -> dict[int, BroadcasterError]:  # fmt: skip
    """Render, record, hand off and finish claimed airings that nothing was handed off for yet."""
    started = time.monotonic()
    errors: dict[int, BroadcasterError] = {}
    with airer.db.session() as s:
        communes = dict(s.execute(select(Airing.id, Airing.commune_id).where(Airing.id.in_(airing_ids))).all())
        targets: dict[int, list[int]] = {airing_id: [] for airing_id in airing_ids}
        bulletin_of: dict[int, int] = {}
        for airing_id, cluster_id, bulletin_id in s.execute(
                select(AiringItem.airing_id, AiringItem.cluster_id, AiringItem.bulletin_id)
                .where(AiringItem.airing_id.in_(airing_ids), AiringItem.status == AiringItemStatus.INCLUDED)
                .order_by(AiringItem.airing_id, AiringItem.cluster_id)):  # fmt: skip
            if cluster_id is not None:
                targets[airing_id].append(cluster_id)
            if bulletin_id is not None:
                bulletin_of.setdefault(airing_id, bulletin_id)
        bulletins = {b.id: b for b in s.scalars(
            select(Bulletin).where(Bulletin.id.in_(set(bulletin_of.values())))
            .options(selectinload(Bulletin.zones), selectinload(Bulletin.clusters), joinedload(Bulletin.commune)))}
        recipes: dict[int, tuple[ProgrammePiece, ...]] = {}
        for airing_id in airing_ids:
            bulletin = bulletins.get(bulletin_of.get(airing_id, -1))
            if bulletin is None or bulletin.status not in AIRABLE:
                errors[airing_id] = BulletinNotAirable(
                    f"Bản tin khẩn của lượt phát số {airing_id} không còn được duyệt.",
                    detail=f"bulletin {bulletin_of.get(airing_id)}: {bulletin.status if bulletin else 'gone'}")
            elif targets[airing_id]:
                recipes[airing_id] = (candidate_from(bulletin, airer.uploads_dir).piece(),)
    for airing_id, error in errors.items():
        airer.release(airing_id, error, deadlines[airing_id])
    audio_of: dict[int, RenderedAudio] = {}
    renders: dict[tuple[ProgrammePiece, ...], RenderedAudio] = {}
    # One read of each master and programme, and of each commune's lexicon, for the whole batch.
    with airer.speech.cache.reusing(), airer.speech.readings_of({communes[a] for a in recipes}):
        for airing_id, pieces in recipes.items():
            try:
                if pieces not in renders:
                    crash_point("rendering")
                    renders[pieces] = airer.speech.render_programme(list(pieces), chime=True)
                audio_of[airing_id] = renders[pieces]
            except InvalidInput as error:  # the bulletin itself cannot be spoken or played: never will be
                airer.give_up(airing_id, AiringStatus.FAILED, error.code, error.message)
                errors[airing_id] = error
            except Exception as error:  # noqa: BLE001 - the others still go on the air
                airer.release(airing_id, error, deadlines[airing_id])
                errors[airing_id] = _public(error)
    # Rendering took a moment: the agents still get ``delay_s`` to fetch the audio after it; one play
    # time for the whole batch, so every commune starts together.
    play_at = now + timedelta(seconds=airer.delay_s + (time.monotonic() - started))
    expires_at = play_at + timedelta(seconds=airer.window_s)
    programmes = [ClusterProgramme(airing_id, cluster_id, audio, play_at, expires_at, Priority.EMERGENCY)
                  for airing_id, audio in audio_of.items() for cluster_id in targets[airing_id]]  # fmt: skip
    if programmes:
        airer.record_deliveries(programmes)
    # An airing whose clusters were all retired since its approval has nothing to hand off: it ends as for one.
    ending = [a for a in airing_ids if a in audio_of or (a not in errors and not targets[a])]
    with airer.db.session() as s:
        cancelled = set(s.scalars(select(Airing.id).where(Airing.id.in_(ending),
                                                          Airing.status != AiringStatus.PLANNED)))
    programmes = [p for p in programmes if p.airing_id not in cancelled]  # cancelled while rendering
    refused = airer.handoff.hand_off_many(programmes, keep_issued=True) if programmes else {}
    crash_point("fan_out")
    aired = [airing_id for airing_id in ending if airing_id not in cancelled]
    stopped = _finish(airer, aired, communes, bulletin_of, targets, refused, play_at, actor_id)
    for airing_id in stopped:  # cancelled between the check and the hand-off: the stop went out before our orders
        airer.handoff.stop(airing_id, targets[airing_id])
    return errors


def _finish(airer: EmergencyAirer, airing_ids: list[int], communes: dict[int, int], bulletin_of: dict[int, int],
            targets: dict[int, list[int]], refused: dict[int, str], play_at: datetime,
            actor_id: int | None) -> list[int]:  # fmt: skip
    """Mark the airings handed off, their refused clusters failed, their bulletins aired; the ones cancelled meanwhile."""
    with airer.db.session() as s:
        still = set(s.scalars(select(Airing.id).where(Airing.id.in_(airing_ids),
                                                      Airing.status == AiringStatus.PLANNED).with_for_update()))
        done = [airing_id for airing_id in airing_ids if airing_id in still]
        if not done:
            return [airing_id for airing_id in airing_ids if airing_id not in still]
        s.execute(update(Airing).where(Airing.id.in_(done)).values(status=AiringStatus.HANDED_OFF, starts_at=play_at))
        s.execute(update(Bulletin).where(Bulletin.id.in_([bulletin_of[a] for a in done if a in bulletin_of]),
                                         Bulletin.status == BulletinStatus.APPROVED)
                  .values(status=BulletinStatus.AIRED))  # fmt: skip
        for airing_id in done:
            failed = sorted(c for c in targets[airing_id] if c in refused)
            for cluster_id in failed:  # refused by delivery (a cluster deleted meanwhile): failed there alone
                s.execute(update(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id == cluster_id)
                          .values(state=DeliveryState.FAILED, error=refused[cluster_id]))  # fmt: skip
            system_event(s, "compose", "airing", airing_id, communes[airing_id],
                         {"bulletin_id": bulletin_of.get(airing_id), "play_at": play_at.isoformat(),
                          "clusters": targets[airing_id], "failed_clusters": failed, "resumed": False,
                          "priority": str(Priority.EMERGENCY)}, actor_id=actor_id)  # fmt: skip
    return [airing_id for airing_id in airing_ids if airing_id not in still]


def _public(error: BaseException) -> BroadcasterError:
    """The error as the API would name it (a full disk or a busy database by its code)."""
    found = public_error(error)
    if found is not None:
        return found
    log.error("emergency not on the air: %s: %s", type(error).__name__, error)
    return EmergencyNotAired("Chưa phát được bản tin khẩn cấp do lỗi máy chủ; hệ thống tự thử lại.",
                             detail=f"{type(error).__name__}: {error}")
