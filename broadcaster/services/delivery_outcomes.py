"""What the lanes report back: an order accepted, refused, expired, unreachable or cancelled, in the log.

``DeliveryOrder.status`` is the transport's view; the ``Delivery`` row (the broadcast log) moves
along with it, and every failure is an audit event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from broadcaster.delivery.orders import OrderKind
from broadcaster.models import Cluster, Delivery, DeliveryOrder, DeliveryState, OrderStatus
from broadcaster.services.delivery_lanes import SendReport
from broadcaster.services.delivery_log import advance, audit_delivery, failure_text

IN_BATCH = 500  # ids per IN list


_LOOK_UP = object()


def record_outcome(s: Session, row: DeliveryOrder, report: SendReport, *,
                   delivery: Delivery | None | object = _LOOK_UP) -> None:
    """Store what the lanes finally did with one order, and move its delivery along (the caller commits).

    ``delivery``: the delivery pointing at the order, if the caller read it already (None: there is none).
    """
    at = datetime.fromtimestamp(report.at, UTC)
    row.attempts = report.attempts
    reason: tuple[DeliveryState, str, str] | None = None
    if report.result == "accepted":
        row.status, row.accepted_at, row.last_error = OrderStatus.ACCEPTED, at, None
    elif report.result == "cancelled":
        row.status = OrderStatus.CANCELLED
        reason = (DeliveryState.CANCELLED, "delivery_cancelled", failure_text(
            "cancelled", "Đã hủy trước khi gửi tới cụm loa."))
    elif report.result == "refused":
        row.status, row.last_error = OrderStatus.REFUSED, failure_text(report.code, report.message)
        reason = (DeliveryState.FAILED, "delivery_refused", row.last_error)
    else:  # the agent said expired (410), or it could not be reached before the order expired
        row.status = OrderStatus.EXPIRED
        row.last_error = failure_text(report.code, report.message) if report.result == "expired" else failure_text(
            report.code, "Không gửi được lệnh phát tới cụm loa trước khi hết hạn"
            + (f" ({report.message})." if report.message else "."))
        reason = (DeliveryState.MISSED, "delivery_missed", row.last_error)
    cluster = s.get(Cluster, row.cluster_id)
    commune_id = cluster.commune_id if cluster is not None else None
    if row.kind != OrderKind.PLAY:
        if reason is not None and reason[0] is not DeliveryState.CANCELLED:
            audit_delivery(s, None, action="stop_not_delivered", commune_id=commune_id,
                           details={"order_id": row.order_id, "airing_id": row.airing_id,
                                    "cluster_id": row.cluster_id, "error": row.last_error})
        return
    if delivery is _LOOK_UP:
        delivery = delivery_of(s, row)
    if not isinstance(delivery, Delivery):
        return
    delivery.attempts = report.attempts
    if reason is None:
        delivery.sent_at = delivery.sent_at or at
        advance(s, delivery, DeliveryState.SENT, from_agent=False)
        return
    state, action, error = reason
    if advance(s, delivery, state, from_agent=False, error=error) and state is not DeliveryState.CANCELLED:
        audit_delivery(s, delivery, action=action, commune_id=commune_id,
                       details={"order_id": row.order_id, "code": report.code, "error": error,
                                "attempts": report.attempts})


def delivery_of(s: Session, row: DeliveryOrder) -> Delivery | None:
    """The delivery that still points at this order (a newer programme may have replaced it)."""
    return s.scalar(select(Delivery).where(Delivery.airing_id == row.airing_id, Delivery.cluster_id == row.cluster_id,
                                           Delivery.order_id == row.order_id))


def expire_unconfirmed(s: Session, now: datetime) -> int:
    """Deliveries handed over (a broker took the order) but never confirmed by the agent before expiry: missed.

    Over ``mqtt`` "sent" means the broker holds the order; a box that never came back, or a broker
    that lost its queue, leaves it there. The agent's own later word still wins (``advance``).
    """
    rows = s.execute(select(Delivery, DeliveryOrder).join(DeliveryOrder, Delivery.order_id == DeliveryOrder.order_id)
                     .where(Delivery.state == DeliveryState.SENT, DeliveryOrder.expires_at < now)).all()
    error = failure_text("not_confirmed", "Cụm loa không xác nhận đã nhận lệnh phát trước khi hết hạn.")
    for delivery, order in rows:
        if advance(s, delivery, DeliveryState.MISSED, from_agent=False, error=error):
            cluster = s.get(Cluster, delivery.cluster_id)
            audit_delivery(s, delivery, action="delivery_missed", commune_id=cluster.commune_id if cluster else None,
                           details={"order_id": order.order_id, "reason": "not_confirmed"})
    return len(rows)


def unconfirmed_on_broker(s: Session, now: datetime, *, older_than_s: float,
                          cluster_ids: Sequence[int] | None = None) -> list[tuple[DeliveryOrder, Cluster]]:
    """Valid orders a broker took (``accepted``) for connected mqtt boxes that never confirmed them, oldest seq first."""
    query = (select(DeliveryOrder, Cluster).join(Cluster, Cluster.id == DeliveryOrder.cluster_id)
             .join(Delivery, Delivery.order_id == DeliveryOrder.order_id, isouter=True)
             .where(Cluster.transport == "mqtt", Cluster.link_state == "connected",
                    DeliveryOrder.status == OrderStatus.ACCEPTED, DeliveryOrder.expires_at > now,
                    DeliveryOrder.accepted_at <= now - timedelta(seconds=older_than_s),
                    (Delivery.state == DeliveryState.SENT) | (DeliveryOrder.kind == OrderKind.STOP.value))
             .order_by(DeliveryOrder.seq))
    if cluster_ids is None:
        return [(row, cluster) for row, cluster in s.execute(query).all()]
    found: list[tuple[DeliveryOrder, Cluster]] = []
    for first in range(0, len(cluster_ids), IN_BATCH):  # a bounded IN list (PostgreSQL and SQLite caps)
        found += s.execute(query.where(DeliveryOrder.cluster_id.in_(list(cluster_ids[first:first + IN_BATCH])))).all()
    return sorted(found, key=lambda pair: pair[0].seq)
