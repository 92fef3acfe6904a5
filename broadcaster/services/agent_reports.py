"""What agents tell the server: reports (the broadcast log's facts) and heartbeats (presence).

Every request is signed with the cluster's own key and checked against the public key we keep
(``delivery.agent_auth``); a cluster we do not know gets the same 401 as a wrong signature.
Everything an agent says is bounded (``delivery.orders``): a report that breaks the format is
rejected alone, counted in the answer, and the rest of its batch is stored (a batch refused
whole would block the agent's outbox for ever). Reports arrive in batches, oldest first, and a
batch whose answer was lost comes again: each report is stored once by its ``report_id`` and
only a new one changes anything. A report moves its order's ``Delivery`` along
(``delivery_log.advance``): ``played`` records the start the agent measured as ``played_at``;
failures, misses and refusals also write an audit event. Heartbeats keep the cluster's last
status (volume, what is playing, its clock offset) and make it *online* for 2.5 heartbeat
intervals; a heartbeat not newer than the last one is a replay and refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from broadcaster.delivery.agent_auth import (
    AgentRequestReplayed,
    AgentRequestUnauthenticated,
    request_cluster,
    verify_agent_request,
)
from broadcaster.delivery.keys import InvalidPublicKey, load_public_key
from broadcaster.delivery.orders import AgentReport, Heartbeat, OrderKind, ReportStage
from broadcaster.errors import InvalidInput
from broadcaster.models import AgentReportRecord, Cluster, Delivery, DeliveryOrder, DeliveryState
from broadcaster.services.delivery_log import advance, audit_delivery, failure_text
from broadcaster.services.provisioning import cluster_id_from_wire, wire_cluster_id

log = logging.getLogger(__name__)
MAX_REPORTS_PER_REQUEST = 500
OFFLINE_AFTER_INTERVALS = 2.5
DEFAULT_HEARTBEAT_INTERVAL_S = 60.0
# A heartbeat may move the cluster's seq forward (a database restored from an older backup) by at
# most this much: a bigger jump is a broken or hostile agent, and is only noted.
SEQ_CATCHUP_MAX = 100_000
_STOPPED_REASONS = ("stopped", "cancelled")


class AgentPayloadInvalid(InvalidInput):
    """An authenticated agent sent a body that is not a list of reports or a heartbeat."""

    code = "agent_payload_invalid"


@dataclass(frozen=True)
class ReportReceipt:
    """How many reports of a batch were new, and how many had been received before."""

    accepted: int
    duplicates: int
    rejected: int = 0


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
    clock_offset_ms: float | None = None
    link: str | None = None


def authenticate(session: Session, purpose: str, body: bytes, headers: Mapping[str, str], *,
                 now: float) -> tuple[Cluster, int]:
    """The cluster whose key signed this request, and the request's timestamp (ms); 401 otherwise."""
    cluster_id = cluster_id_from_wire(request_cluster(headers))
    cluster = session.get(Cluster, cluster_id) if cluster_id is not None else None
    try:
        key = load_public_key(cluster.agent_public_key) if cluster is not None and cluster.agent_public_key else None
    except InvalidPublicKey:
        key = None
    if cluster is None or key is None:
        raise AgentRequestUnauthenticated("Yêu cầu của cụm loa không xác thực được (cụm loa không có trong danh mục).",
                                          detail=f"unknown cluster {request_cluster(headers)[:40]!r}")
    return cluster, verify_agent_request(key, purpose, body, headers, now=now)


def receive_reports(session: Session, body: bytes, headers: Mapping[str, str], *, now: float) -> ReportReceipt:
    """Authenticate, parse and record one batch of reports, and commit."""
    cluster, _timestamp = authenticate(session, "reports", body, headers, now=now)
    items = _json_list(body)
    reports: list[AgentReport] = []
    rejected = 0
    wire_id = wire_cluster_id(cluster.id)
    for item in items:
        try:
            report = AgentReport.model_validate(item)
        except ValidationError as error:
            log.warning("cluster %s sent a malformed report: %s", cluster.id, str(error)[:300])
            rejected += 1
            continue
        if report.cluster_id != wire_id:
            log.warning("cluster %s sent a report for cluster %r", cluster.id, report.cluster_id)
            rejected += 1
            continue
        reports.append(report)
    try:
        receipt = record_reports(session, cluster, reports)
        session.commit()
    except IntegrityError:
        # The same batch, sent again by an agent whose first try timed out, was stored meanwhile
        # by the other request: count again, now as duplicates.
        session.rollback()
        receipt = record_reports(session, cluster, reports)
        session.commit()
    return ReportReceipt(receipt.accepted, receipt.duplicates, rejected)


def _json_list(body: bytes) -> list[Any]:
    try:
        items = json.loads(body)
    except RecursionError:
        raise AgentPayloadInvalid("Báo cáo của cụm loa lồng nhau quá sâu.", detail="nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise AgentPayloadInvalid("Báo cáo của cụm loa không phải JSON.", detail=str(error)[:200]) from None
    if not isinstance(items, list):
        raise AgentPayloadInvalid("Báo cáo của cụm loa phải là một danh sách.")
    if len(items) > MAX_REPORTS_PER_REQUEST:
        raise AgentPayloadInvalid(f"Mỗi lần gửi tối đa {MAX_REPORTS_PER_REQUEST} báo cáo.")
    return items


def receive_heartbeat(session: Session, body: bytes, headers: Mapping[str, str], *, now: float,
                      interval_s: float) -> Presence:
    """Authenticate and record a heartbeat, and commit; the cluster's presence afterwards."""
    cluster, timestamp_ms = authenticate(session, "heartbeat", body, headers, now=now)
    try:
        heartbeat = Heartbeat.model_validate_json(body)
    except ValidationError as error:
        raise AgentPayloadInvalid("Nhịp tim của cụm loa sai định dạng.", detail=str(error)[:500]) from None
    if heartbeat.cluster_id != wire_cluster_id(cluster.id):
        raise AgentPayloadInvalid("Nhịp tim mang mã của một cụm loa khác.")
    last_ms = (cluster.last_status or {}).get("signed_at_ms")
    if isinstance(last_ms, int) and timestamp_ms <= last_ms:
        raise AgentRequestReplayed("Nhịp tim này đã nhận rồi (gửi lại): bị từ chối.",
                                   detail=f"timestamp {timestamp_ms} <= last {last_ms}")
    received_at = datetime.fromtimestamp(now, UTC)
    record_heartbeat(session, cluster, heartbeat, received_at=received_at, interval_s=interval_s,
                     signed_at_ms=timestamp_ms)
    session.commit()
    return presence_of(cluster, received_at)


def record_reports(session: Session, cluster: Cluster, reports: list[AgentReport]) -> ReportReceipt:
    """Store each new report and apply it to its delivery (the caller commits)."""
    accepted = duplicates = 0
    for report in reports:
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
                     interval_s: float, signed_at_ms: int | None = None) -> None:
    """Keep the heartbeat as the cluster's last status (the caller commits)."""
    cluster.last_heartbeat_at = received_at
    clock = heartbeat.clock
    status: dict[str, Any] = {
        "status": heartbeat.status, "volume": heartbeat.volume, "version": heartbeat.version,
        "now_playing": heartbeat.now_playing.model_dump(mode="json") if heartbeat.now_playing else None,
        "queue_length": heartbeat.queue_length, "last_seq": heartbeat.last_seq,
        "reports_pending": heartbeat.reports_pending, "agent_time": heartbeat.at.isoformat(),
        "heartbeat_interval_s": interval_s, "health": heartbeat.health,
        "problems": [problem.model_dump() for problem in heartbeat.problems],
        "free_disk_bytes": heartbeat.free_disk_bytes,
        "signed_at_ms": signed_at_ms, "transport": heartbeat.transport,
        # Shown as the box's clock minus the server's (positive: the box is fast); the agent corrects it.
        "clock_offset_ms": round(-clock.offset_ms, 1) if clock else None,
        "clock_rtt_ms": round(clock.rtt_ms, 1) if clock else None,
    }
    # If the agent has accepted a higher seq than we think we issued (a database restored from a
    # backup, another server), catch up: our next orders would otherwise all look like replays.
    # A jump beyond SEQ_CATCHUP_MAX is no restore: it is noted, never copied into our counter.
    if heartbeat.last_seq > cluster.order_seq + SEQ_CATCHUP_MAX:
        log.warning("cluster %s claims last seq %d, far above ours (%d): ignored", cluster.id, heartbeat.last_seq,
                    cluster.order_seq)
        status["seq_implausible"] = heartbeat.last_seq
    else:
        session.execute(update(Cluster).where(Cluster.id == cluster.id, Cluster.order_seq < heartbeat.last_seq)
                        .values(order_seq=heartbeat.last_seq).execution_options(synchronize_session=False))
    cluster.last_status = status


def presence_of(cluster: Cluster, now: datetime) -> Presence:
    """The cluster's presence at ``now``: online if a heartbeat came within 2.5 intervals."""
    status = cluster.last_status or {}
    interval = float(status.get("heartbeat_interval_s") or DEFAULT_HEARTBEAT_INTERVAL_S)
    last = cluster.last_heartbeat_at
    online = last is not None and now - last <= timedelta(seconds=OFFLINE_AFTER_INTERVALS * interval)
    return Presence(online=online, last_heartbeat_at=last, status=status.get("status"), volume=status.get("volume"),
                    now_playing=status.get("now_playing"), agent_version=status.get("version"),
                    queue_length=status.get("queue_length"), health=status.get("health"),
                    problems=tuple(status.get("problems") or ()), free_disk_bytes=status.get("free_disk_bytes"),
                    clock_offset_ms=status.get("clock_offset_ms"), link=cluster.link_state)
