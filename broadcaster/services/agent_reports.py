"""What agents tell the server: reports (the broadcast log's facts) and heartbeats (presence).

Every request is authenticated by the cluster's HMAC secret (``delivery.keys``); a cluster we do
not know gets the same 401 as a wrong signature. Reports arrive in batches, oldest first, and a
batch whose answer was lost comes again: each report is stored once by its ``report_id`` and
only a new one changes anything. A report moves its order's ``Delivery`` along
(``delivery_log.advance``): ``played`` records the start the agent measured as ``played_at``;
failures, misses and refusals also write an audit event. Heartbeats keep the cluster's last
status (volume, what is playing) and make it *online* for 2.5 heartbeat intervals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from broadcaster.delivery.keys import AgentRequestUnauthenticated, request_cluster, verify_agent_request
from broadcaster.delivery.orders import AgentReport, Heartbeat, OrderKind, ReportStage
from broadcaster.errors import InvalidInput
from broadcaster.models import AgentReportRecord, Cluster, Delivery, DeliveryOrder, DeliveryState
from broadcaster.services.delivery_log import advance, audit_delivery, failure_text
from broadcaster.services.provisioning import cluster_id_from_wire, wire_cluster_id

log = logging.getLogger(__name__)
MAX_REPORTS_PER_REQUEST = 500
OFFLINE_AFTER_INTERVALS = 2.5
DEFAULT_HEARTBEAT_INTERVAL_S = 60.0
_REPORTS = TypeAdapter(list[AgentReport])
_STOPPED_REASONS = ("stopped", "cancelled")


class AgentPayloadInvalid(InvalidInput):
    """An authenticated agent sent a body that is not a list of reports or a heartbeat."""

    code = "agent_payload_invalid"


@dataclass(frozen=True)
class ReportReceipt:
    """How many reports of a batch were new, and how many had been received before."""

    accepted: int
    duplicates: int


@dataclass(frozen=True)
class Presence:
    """Whether a cluster's agent is alive, and what it said last."""

    online: bool
    last_heartbeat_at: datetime | None
    status: str | None
    volume: int | None
    now_playing: dict[str, Any] | None
    agent_version: str | None
    queue_length: int | None
    health: str | None = None  # ok or degraded, as the agent judged itself
    problems: tuple[dict[str, str], ...] = ()  # {"code", "message"}: why it is degraded
    free_disk_bytes: int | None = None


def authenticate(session: Session, body: bytes, headers: Mapping[str, str], *, now: float) -> Cluster:
    """The cluster whose secret signed this request; ``AgentRequestUnauthenticated`` otherwise."""
    cluster_id = cluster_id_from_wire(request_cluster(headers))
    cluster = session.get(Cluster, cluster_id) if cluster_id is not None else None
    if cluster is None or not cluster.report_secret:
        raise AgentRequestUnauthenticated("Yêu cầu của cụm loa không xác thực được (cụm loa không có trong danh mục).",
                                          detail=f"unknown cluster {request_cluster(headers)!r}")
    verify_agent_request(cluster.report_secret, body, headers, now=now)
    return cluster


def receive_reports(session: Session, body: bytes, headers: Mapping[str, str], *, now: float) -> ReportReceipt:
    """Authenticate, parse and record one batch of reports, and commit."""
    cluster = authenticate(session, body, headers, now=now)
    try:
        reports = _REPORTS.validate_json(body)
    except ValidationError as error:
        raise AgentPayloadInvalid("Báo cáo của cụm loa sai định dạng.", detail=str(error)[:500]) from None
    if len(reports) > MAX_REPORTS_PER_REQUEST:
        raise AgentPayloadInvalid(f"Mỗi lần gửi tối đa {MAX_REPORTS_PER_REQUEST} báo cáo.")
    receipt = record_reports(session, cluster, reports)
    session.commit()
    return receipt


def receive_heartbeat(session: Session, body: bytes, headers: Mapping[str, str], *, now: float,
                      interval_s: float) -> Presence:
    """Authenticate and record a heartbeat, and commit; the cluster's presence afterwards."""
    cluster = authenticate(session, body, headers, now=now)
    try:
        heartbeat = Heartbeat.model_validate_json(body)
    except ValidationError as error:
        raise AgentPayloadInvalid("Nhịp tim của cụm loa sai định dạng.", detail=str(error)[:500]) from None
    if heartbeat.cluster_id != wire_cluster_id(cluster.id):
        raise AgentPayloadInvalid("Nhịp tim mang mã của một cụm loa khác.")
    received_at = datetime.fromtimestamp(now, UTC)
    record_heartbeat(session, cluster, heartbeat, received_at=received_at, interval_s=interval_s)
    session.commit()
    return presence_of(cluster, received_at)


def record_reports(session: Session, cluster: Cluster, reports: list[AgentReport]) -> ReportReceipt:
    """Store each new report and apply it to its delivery (the caller commits)."""
    accepted = duplicates = 0
    wire_id = wire_cluster_id(cluster.id)
    for report in reports:
        if report.cluster_id != wire_id:
            raise AgentPayloadInvalid("Báo cáo mang mã của một cụm loa khác.",
                                      detail=f"report for {report.cluster_id!r} from {wire_id!r}")
        if session.get(AgentReportRecord, str(report.report_id)) is not None:
            duplicates += 1
            continue
        session.add(AgentReportRecord(
            report_id=str(report.report_id), cluster_id=cluster.id, seq=report.seq, stage=report.stage.value,
            order_id=str(report.order_id) if report.order_id else None, at=report.at,
            body=report.model_dump(mode="json")))  # fmt: skip
        accepted += 1
        _apply(session, cluster, report)
    return ReportReceipt(accepted, duplicates)


def _apply(session: Session, cluster: Cluster, report: AgentReport) -> None:
    order = session.get(DeliveryOrder, str(report.order_id)) if report.order_id else None
    if order is None or order.cluster_id != cluster.id:
        log.info("report %s from cluster %s names no order of ours", report.report_id, cluster.id)
        return
    details = {"order_id": order.order_id, "airing_id": order.airing_id, "cluster_id": cluster.id,
               "stage": report.stage.value, "reason": report.reason, "message": report.message}
    if order.kind != OrderKind.PLAY:
        if report.stage in (ReportStage.APPLIED, ReportStage.REFUSED, ReportStage.FAILED):
            audit_delivery(session, None, action=f"stop_{report.stage.value}", commune_id=cluster.commune_id,
                           details=details)
        return
    record_play(session, order, cluster.id, report)
    # Only the delivery that still points at this order: a newer programme may have replaced it.
    target = session.scalar(select(Delivery).where(Delivery.airing_id == order.airing_id,
                                                   Delivery.cluster_id == cluster.id,
                                                   Delivery.order_id == order.order_id))
    if target is None:
        return
    error = failure_text(report.reason, report.message)
    stage = report.stage
    if stage is ReportStage.RECEIVED:
        advance(session, target, DeliveryState.RECEIVED, from_agent=True)
    elif stage is ReportStage.DOWNLOADED:
        target.downloaded_at = report.at
        advance(session, target, DeliveryState.DOWNLOADED, from_agent=True)
    elif stage is ReportStage.PLAYING:
        target.played_at = report.started_at or report.at
        advance(session, target, DeliveryState.DOWNLOADED, from_agent=True)
    elif stage is ReportStage.PLAYED:
        target.played_at = report.started_at or target.played_at or report.at
        advance(session, target, DeliveryState.PLAYED, from_agent=True)
    elif stage in (ReportStage.FAILED, ReportStage.MISSED):
        if report.started_at is not None:
            target.played_at = report.started_at  # it did start: the log says when, and why it stopped
        state = DeliveryState.MISSED if stage is ReportStage.MISSED else (
            DeliveryState.CANCELLED if report.reason in _STOPPED_REASONS else DeliveryState.FAILED)
        if advance(session, target, state, from_agent=True, error=error) and state is not DeliveryState.CANCELLED:
            audit_delivery(session, target, action=f"delivery_{state.value}", commune_id=cluster.commune_id,
                           details=details)
    elif stage is ReportStage.REFUSED and report.reason != "order_replayed":
        # A refused stale seq (order_replayed) is the lane re-signing the order, not a failure. The
        # transport saw other refusals in the agent's answer too: the report only confirms them.
        audit_delivery(session, target, action="order_refused", commune_id=cluster.commune_id, details=details)
        state = DeliveryState.MISSED if report.reason == "order_expired" else DeliveryState.FAILED
        advance(session, target, state, from_agent=False, error=error)


def record_play(session: Session, order: DeliveryOrder, cluster_id: int, report: AgentReport) -> None:
    """Keep every start of the airing at this cluster in ``Delivery.plays``, partial ones included.

    Also for an order the airing's Delivery no longer points at (a programme replaced, or a play
    stopped and issued again): the log must show that the first seconds went out, not one clean
    "played". One entry per order: an agent never starts an order twice.
    """
    started = report.started_at if report.stage is not ReportStage.PLAYING else (report.started_at or report.at)
    final = report.stage in (ReportStage.PLAYED, ReportStage.FAILED, ReportStage.MISSED)
    if started is None and not final:
        return
    delivery = session.scalar(select(Delivery).where(Delivery.airing_id == order.airing_id,
                                                     Delivery.cluster_id == cluster_id))
    if delivery is None:
        return
    plays = [dict(play) for play in delivery.plays or []]
    entry = next((play for play in plays if play["order_id"] == order.order_id), None)
    if entry is None:
        if started is None:
            return  # finished without ever sounding: not a play
        entry = {"order_id": order.order_id, "started_at": None, "ended_at": None, "completed": None,
                 "reason": None}
        plays.append(entry)
    if started is not None:
        entry["started_at"] = started.isoformat()
    if final:
        entry["ended_at"] = report.ended_at.isoformat() if report.ended_at else None
        entry["completed"] = report.stage is ReportStage.PLAYED
        entry["reason"] = report.reason
    plays.sort(key=lambda play: play["started_at"] or "")
    delivery.plays = plays


def record_heartbeat(session: Session, cluster: Cluster, heartbeat: Heartbeat, *, received_at: datetime,
                     interval_s: float) -> None:
    """Keep the heartbeat as the cluster's last status (the caller commits)."""
    cluster.last_heartbeat_at = received_at
    cluster.last_status = {
        "status": heartbeat.status, "volume": heartbeat.volume, "version": heartbeat.version,
        "now_playing": heartbeat.now_playing.model_dump(mode="json") if heartbeat.now_playing else None,
        "queue_length": heartbeat.queue_length, "last_seq": heartbeat.last_seq,
        "reports_pending": heartbeat.reports_pending, "agent_time": heartbeat.at.isoformat(),
        "heartbeat_interval_s": interval_s, "health": heartbeat.health,
        "problems": [problem.model_dump() for problem in heartbeat.problems],
        "free_disk_bytes": heartbeat.free_disk_bytes,
    }
    # If the agent has accepted a higher seq than we think we issued (a database restored from a
    # backup, another server), catch up: our next orders would otherwise all look like replays.
    session.execute(update(Cluster).where(Cluster.id == cluster.id, Cluster.order_seq < heartbeat.last_seq)
                    .values(order_seq=heartbeat.last_seq).execution_options(synchronize_session=False))


def presence_of(cluster: Cluster, now: datetime) -> Presence:
    """The cluster's presence at ``now``: online if a heartbeat came within 2.5 intervals."""
    status = cluster.last_status or {}
    interval = float(status.get("heartbeat_interval_s") or DEFAULT_HEARTBEAT_INTERVAL_S)
    last = cluster.last_heartbeat_at
    online = last is not None and now - last <= timedelta(seconds=OFFLINE_AFTER_INTERVALS * interval)
    return Presence(online=online, last_heartbeat_at=last, status=status.get("status"), volume=status.get("volume"),
                    now_playing=status.get("now_playing"), agent_version=status.get("version"),
                    queue_length=status.get("queue_length"), health=status.get("health"),
                    problems=tuple(status.get("problems") or ()), free_disk_bytes=status.get("free_disk_bytes"))
