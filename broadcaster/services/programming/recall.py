"""Recalling a session programme already handed off: compose it again without the bulletins cancelled since.

A session is composed ``lead_time_s`` before it starts. A bulletin cancelled in between is still in
the audio the agents hold. ``recompose_airing`` plans each affected cluster again with the
bulletins of its programme that are still airable (same order, same cap, same renderer, so the
cached masters make it quick), hands the new programme to delivery under the same
``(airing_id, cluster_id)`` (delivery withdraws the old order and issues the new one), and stops
the airing at a cluster left with nothing to play. The broadcast log follows: the withdrawn
bulletins' items are removed (the airing's note and the audit event ``recall`` say which), the
Delivery row names the new audio, or is ``cancelled``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update

from broadcaster.clock import local
from broadcaster.db import Database
from broadcaster.models import (
    Airing,
    AiringItem,
    AiringItemStatus,
    AiringKind,
    AiringStatus,
    Cluster,
    Delivery,
    DeliveryState,
)
from broadcaster.services.delivery_log import failure_text
from broadcaster.services.handoff import ClusterProgramme, ProgrammeHandoff
from broadcaster.services.programming.plan import ClusterPlan, load_candidates, system_event
from broadcaster.services.programming.render import ProgrammeRenderer

log = logging.getLogger(__name__)
# A delivery in one of these states has not played yet: its programme may still be replaced.
UNPLAYED = (DeliveryState.PENDING, DeliveryState.SENT, DeliveryState.RECEIVED, DeliveryState.DOWNLOADED)


@dataclass(frozen=True)
class RecallResult:
    """What a recall did at each cluster: a new programme (its audio sha256), a stop, or a failed hand-off."""

    airing_id: int
    replaced: dict[int, str] = field(default_factory=dict)
    stopped: tuple[int, ...] = ()
    failed: dict[int, str] = field(default_factory=dict)


def recompose_airing(db: Database, renderer: ProgrammeRenderer, handoff: ProgrammeHandoff, airing_id: int,
                     cluster_ids: Sequence[int], now: datetime, *, uploads_dir: Path,
                     actor_id: int | None = None) -> RecallResult:  # fmt: skip
    """Replace a handed-off session programme at these clusters by one without the bulletins no longer airable."""
    with db.session() as s:
        airing = s.get(Airing, airing_id)
        if airing is None or airing.kind != AiringKind.SESSION:
            return RecallResult(airing_id)
        deliveries = {d.cluster_id: d for d in s.scalars(select(Delivery).where(
            Delivery.airing_id == airing_id, Delivery.cluster_id.in_(list(cluster_ids)),
            Delivery.play_at > now, Delivery.state.in_(UNPLAYED)))}  # fmt: skip
        clusters = list(s.scalars(select(Cluster).where(Cluster.id.in_(list(deliveries))).order_by(Cluster.id)))
        included: defaultdict[int, list[int]] = defaultdict(list)
        for item in s.scalars(select(AiringItem).where(
                AiringItem.airing_id == airing_id, AiringItem.cluster_id.in_(list(deliveries)),
                AiringItem.status == AiringItemStatus.INCLUDED).order_by(AiringItem.position)):  # fmt: skip
            if item.cluster_id is not None:
                included[item.cluster_id].append(item.bulletin_id)
        # The same candidates (and carry-over order) as the composition saw; cancelled ones are gone.
        candidates = {c.bulletin_id: c for c in load_candidates(
            s, airing.commune_id, local(airing.starts_at).date(), uploads_dir, before=airing.starts_at)}  # fmt: skip
        commune_id, cap_s = airing.commune_id, airing.max_duration_s
    groups: defaultdict[tuple[int, ...], list[Cluster]] = defaultdict(list)
    for cluster in clusters:
        groups[tuple(b for b in included[cluster.id] if b in candidates)].append(cluster)
    plans: list[ClusterPlan] = []
    programmes: list[ClusterProgramme] = []
    for kept, group in groups.items():
        if not kept:
            plans += [ClusterPlan(c.id, c.name, (), ()) for c in group]
            continue
        subset = [candidates[b] for b in kept]
        durations, _failures = renderer.durations(subset)
        group_plans, renders = renderer.fit_and_render(group, subset, durations, cap_s)
        plans += group_plans
        for plan in group_plans:
            if plan.included:
                delivery = deliveries[plan.cluster_id]
                programmes.append(ClusterProgramme(airing_id, plan.cluster_id, renders[plan.key], delivery.play_at,
                                                   delivery.expires_at, plan.priority))  # fmt: skip
    failed = handoff.hand_off_many(programmes) if programmes else {}
    empty = [plan.cluster_id for plan in plans if not plan.included]
    if empty:
        handoff.stop(airing_id, empty)  # on the speakers first: if that fails, the log must not claim it stopped
    result = RecallResult(airing_id, {p.cluster_id: p.audio.sha256 for p in programmes if p.cluster_id not in failed},
                          tuple(empty), failed)  # fmt: skip
    _record(db, result, commune_id, [p for p in plans if p.cluster_id not in failed], programmes, included, now,
            actor_id)  # fmt: skip
    log.info("airing %s recalled: %d replaced, %d stopped, %d failed", airing_id, len(result.replaced),
             len(result.stopped), len(failed))
    return result


def _record(db: Database, result: RecallResult, commune_id: int, plans: Sequence[ClusterPlan],
            programmes: Sequence[ClusterProgramme], included: dict[int, list[int]], now: datetime,
            actor_id: int | None) -> None:  # fmt: skip
    airing_id = result.airing_id
    audio = {p.cluster_id: p.audio for p in programmes}
    removed: dict[str, list[int]] = {}
    with db.session() as s:
        for plan in plans:
            kept = [item.bulletin_id for item in plan.included]
            removed[str(plan.cluster_id)] = [b for b in included[plan.cluster_id] if b not in kept]
            in_cluster = (AiringItem.airing_id == airing_id) & (AiringItem.cluster_id == plan.cluster_id)
            s.execute(delete(AiringItem).where(in_cluster, AiringItem.status == AiringItemStatus.INCLUDED,
                                               AiringItem.bulletin_id.not_in(kept)))  # fmt: skip
            for position, item in enumerate(plan.included):
                s.execute(update(AiringItem).where(in_cluster, AiringItem.bulletin_id == item.bulletin_id)
                          .values(position=position, duration_s=item.duration_s))  # fmt: skip
            in_delivery = (Delivery.airing_id == airing_id) & (Delivery.cluster_id == plan.cluster_id)
            if plan.cluster_id in audio:
                new = audio[plan.cluster_id]
                s.execute(update(Delivery).where(in_delivery).values(
                    audio_sha256=new.sha256, audio_size=new.size, duration_s=new.duration_s))  # fmt: skip
            else:
                s.execute(update(Delivery).where(in_delivery, Delivery.state.in_(UNPLAYED)).values(
                    state=DeliveryState.CANCELLED, error=failure_text(
                        "recalled", "Chương trình đã được thu hồi: không còn bản tin nào để phát.")))  # fmt: skip
        airing = s.get_one(Airing, airing_id)
        names = {cluster_id: name for cluster_id, name in s.execute(
            select(Cluster.id, Cluster.name).where(Cluster.id.in_([p.cluster_id for p in plans])))}  # fmt: skip
        parts = []
        if result.replaced:
            parts.append("phát chương trình mới tại " + ", ".join(f"«{names[c]}»" for c in sorted(result.replaced)))
        if result.stopped:
            parts.append("dừng tại " + ", ".join(f"«{names[c]}»" for c in sorted(result.stopped)))
        if result.failed:
            parts.append(f"chưa giao được tới {len(result.failed)} cụm loa")
        line = f"Đã thu hồi lúc {local(now):%H:%M %d/%m/%Y}: " + "; ".join(parts) + "."
        airing.note = f"{airing.note}; {line}" if airing.note else line
        if not s.scalar(select(AiringItem.id).where(AiringItem.airing_id == airing_id,
                                                    AiringItem.status == AiringItemStatus.INCLUDED).limit(1)):
            airing.status = AiringStatus.EMPTY
        system_event(s, "recall", "airing", airing_id, commune_id,
                     {"removed": removed, "replaced": {str(c): sha for c, sha in result.replaced.items()},
                      "stopped": list(result.stopped), "failed": {str(c): e for c, e in result.failed.items()}},
                     actor_id=actor_id)  # fmt: skip
