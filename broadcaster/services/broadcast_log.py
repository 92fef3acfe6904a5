"""The broadcast log: what aired (or did not) where and when, from Airing, AiringItem and Delivery rows.

One row per airing × cluster × bulletin placed (or deferred) there, with that cluster's delivery
beside it. An airing with no bulletins at all (empty, or missed before composing) is one row with
no cluster and no bulletin. Dates filter on the
commune-local date of the airing's start.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from broadcaster.clock import LOCAL_ZONE, local
from broadcaster.models import Airing, AiringItem, Bulletin, Cluster, Delivery, User
from broadcaster.services import scoping
from broadcaster.services.bulletins import BulletinNotFound
from broadcaster.services.registry import ClusterNotFound

MAX_ROWS = 50_000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class LogFilters:
    """What the log may be narrowed to."""

    commune_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    cluster_id: int | None = None
    bulletin_id: int | None = None
    limit: int = 1000
    offset: int = 0


@dataclass(frozen=True)
class LogRow:
    """One bulletin of one airing at one cluster."""

    airing_id: int
    commune_id: int
    kind: str
    session_name: str
    starts_at: datetime
    airing_status: str
    note: str | None
    cluster_id: int | None
    cluster_name: str | None
    delivery_state: str | None
    play_at: datetime | None
    played_at: datetime | None
    delivery_error: str | None
    play_count: int | None  # starts at the cluster: more than one means it was cut and aired again
    plays: str | None  # each start, when and how it ended (partial plays included)
    bulletin_id: int | None
    bulletin_title: str | None
    item_status: str | None
    position: int | None
    duration_s: float | None


def query_log(session: Session, actor: User, filters: LogFilters) -> list[LogRow]:
    """The log rows the actor may see, oldest airing first, narrowed by ``filters``."""
    # Items are per cluster; the delivery of that cluster (if the cluster got a programme) sits beside them.
    # A test tone has no item (no bulletin): its row is its delivery.
    query = (
        select(Airing, Delivery, Cluster, AiringItem, Bulletin)
        .outerjoin(AiringItem, AiringItem.airing_id == Airing.id)
        .outerjoin(Delivery, and_(Delivery.airing_id == Airing.id,
                                  or_(Delivery.cluster_id == AiringItem.cluster_id, AiringItem.id.is_(None))))
        .outerjoin(Cluster, Cluster.id == func.coalesce(AiringItem.cluster_id, Delivery.cluster_id))
        .outerjoin(Bulletin, Bulletin.id == AiringItem.bulletin_id)
        .where(scoping.commune_filter(actor, Airing.commune_id))
    )
    if filters.commune_id is not None:
        scoping.visible_commune(session, actor, filters.commune_id)
        query = query.where(Airing.commune_id == filters.commune_id)
    if filters.date_from is not None:
        query = query.where(Airing.starts_at >= _local_midnight(filters.date_from))
    if filters.date_to is not None:
        query = query.where(Airing.starts_at < _local_midnight(filters.date_to) + timedelta(days=1))
    if filters.cluster_id is not None:
        cluster = session.get(Cluster, filters.cluster_id)
        if cluster is None or not scoping.can_see_commune(actor, cluster.commune_id):
            raise ClusterNotFound(f"Không tìm thấy cụm loa số {filters.cluster_id}.")
        query = query.where(Cluster.id == cluster.id)
    if filters.bulletin_id is not None:
        bulletin = session.get(Bulletin, filters.bulletin_id)
        if bulletin is None or not scoping.can_see_commune(actor, bulletin.commune_id):
            raise BulletinNotFound(f"Không tìm thấy bản tin số {filters.bulletin_id}.")
        query = query.where(AiringItem.bulletin_id == bulletin.id)
    query = query.order_by(Airing.starts_at, Airing.id, Cluster.id, AiringItem.position, AiringItem.id)
    query = query.limit(min(filters.limit, MAX_ROWS)).offset(filters.offset)
    return [_row(*result) for result in session.execute(query).all()]


_END_REASONS = {
    "stopped": "bị dừng", "preempted": "bị ngắt cho tin khẩn", "interrupted": "cụm loa tắt giữa chừng",
    "cancelled": "bị hủy", "expired": "quá hạn",
}


def describe_plays(plays: Sequence[dict[str, object]]) -> str:
    """Every start at one cluster in words: ``17:00:05 phát dở 12 giây (bị dừng); 17:00:20 phát trọn 95 giây``."""
    parts = []
    for play in plays:
        started = datetime.fromisoformat(str(play["started_at"])) if play.get("started_at") else None
        ended = datetime.fromisoformat(str(play["ended_at"])) if play.get("ended_at") else None
        when = local(started).strftime("%H:%M:%S") if started else "?"
        length = f" {round((ended - started).total_seconds())} giây" if started and ended else ""
        if play.get("completed"):
            parts.append(f"{when} phát trọn{length}")
        elif play.get("completed") is None:
            parts.append(f"{when} đang phát")
        else:
            reason = _END_REASONS.get(str(play.get("reason")), str(play.get("reason") or "không rõ lý do"))
            parts.append(f"{when} phát dở{length} ({reason})")
    return "; ".join(parts)


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_ZONE)


def _row(airing: Airing, delivery: Delivery | None, cluster: Cluster | None, item: AiringItem | None,
         bulletin: Bulletin | None) -> LogRow:
    return LogRow(
        airing_id=airing.id, commune_id=airing.commune_id, kind=str(airing.kind), session_name=airing.session_name,
        starts_at=local(airing.starts_at), airing_status=str(airing.status), note=airing.note,
        cluster_id=cluster.id if cluster else None, cluster_name=cluster.name if cluster else None,
        delivery_state=str(delivery.state) if delivery else None,
        play_at=local(delivery.play_at) if delivery else None,
        played_at=local(delivery.played_at) if delivery and delivery.played_at else None,
        delivery_error=delivery.error if delivery else None,
        play_count=len(delivery.plays or []) if delivery else None,
        plays=describe_plays(delivery.plays) if delivery and delivery.plays else None,
        bulletin_id=bulletin.id if bulletin else None, bulletin_title=bulletin.title if bulletin else None,
        item_status=str(item.status) if item else None, position=item.position if item else None,
        duration_s=item.duration_s if item else (delivery.duration_s if delivery else None),
    )


CSV_COLUMNS = [f.name for f in fields(LogRow)]


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def to_csv(rows: Iterable[LogRow]) -> str:
    """The rows as CSV for programs: field names as header, ISO times (UTF-8 with a BOM)."""
    return write_csv(CSV_COLUMNS, ([getattr(row, name) for name in CSV_COLUMNS] for row in rows))


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV file spreadsheet programs read safely: UTF-8 with a BOM (Vietnamese), no cell run as a formula."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def columns() -> Sequence[str]:
    """The CSV header, in order."""
    return list(CSV_COLUMNS)
