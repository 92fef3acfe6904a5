"""Delivery: the ``ProgrammeHandoff`` that turns programmes into signed orders and gets them to the clusters.

``hand_off`` (called by programming, from any thread) does, in one transaction: take the next
sequence number of the cluster (``Cluster.order_seq``, incremented in the database), sign the
order, store it as a ``DeliveryOrder`` (the server's outbox) and point the airing's ``Delivery``
row at it. Then it pins the audio in the cache until the order expires and queues the order on
the cluster's lane (``delivery_lanes``), which sends it with retries. The hand-off is
at-least-once, so a second hand-off of the same programme to the same airing and cluster finds
the stored order and sends the very same bytes; the agent answers "duplicate" and plays once.

``stop`` withdraws queued orders of the airing and sends a signed ``stop`` order ahead of
everything else. ``start`` resumes the queued orders a previous run left (no order is lost to a
restart) and records as missed those that expired while the server was down.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from broadcaster.cache import AudioCache, InvalidCacheKey, check_key
from broadcaster.clock import Clock, SystemClock
from broadcaster.config import Settings
from broadcaster.db import Database, aware_utc, utc_now
from broadcaster.delivery import orders
from broadcaster.delivery.keys import load_or_create_signing_key
from broadcaster.delivery.orders import MAX_SEQ, OrderKind, OrderSigner, PlayOrder
from broadcaster.delivery.pull_transport import PullTransport
from broadcaster.delivery.transport import ClusterAddress
from broadcaster.errors import BroadcasterError, NotFound, ServiceFailure
from broadcaster.faults import crash_point
from broadcaster.models import (
    AgentReportRecord,
    Cluster,
    Delivery,
    DeliveryOrder,
    DeliveryState,
    OrderStatus,
    Priority,
)
from broadcaster.resource_faults import as_resource_error
from broadcaster.services.delivery_lanes import (
    PRIORITY_RANKS,
    STOP_RANK,
    DeliveryLanes,
    OutgoingOrder,
    SendReport,
)
from broadcaster.services.delivery_log import advance, audit_delivery, failure_text
from broadcaster.services.delivery_outcomes import (
    IN_BATCH,
    delivery_of,
    expire_unconfirmed,
    record_outcome,
    unconfirmed_on_broker,
)
from broadcaster.services.handoff import ClusterProgramme
from broadcaster.services.link_states import LinkChange, LinkRecorder
from broadcaster.services.order_seqs import next_seq, reserve_seqs
from broadcaster.services.provisioning import audio_url, cluster_id_from_wire, wire_cluster_id

log = logging.getLogger(__name__)
PIN_PREFIX = "delivery:"
STOP_MIN_TTL = timedelta(minutes=10)
HOUSEKEEPING_INTERVAL_S = 60.0
RESEND_INTERVAL_S = 10.0
OUTBOX_WATCH_S = 1.0  # how soon the lanes' node takes up orders another replica stored
HAND_OFF_BATCH = 200
SEQ_HEADROOM = 1000  # re-signs and stops take seqs too
KEEP_REPORTS = timedelta(days=30)
_LIVE = (OrderStatus.QUEUED, OrderStatus.ACCEPTED)


class DeliveryClusterUnknown(NotFound):
    """The programme names a cluster that no longer exists."""

    code = "delivery_cluster_unknown"


class ClusterSeqExhausted(ServiceFailure):
    """The cluster's order counter is at its ceiling (a hostile heartbeat can no longer push it there)."""

    code = "cluster_seq_exhausted"


def _failure(error: BaseException) -> str:
    if isinstance(error, BroadcasterError):
        return failure_text(error.code, error.message)
    return failure_text("delivery_internal_error", f"Lỗi khi giao lệnh phát ({type(error).__name__}).")


class DeliveryService:
    """Signs, stores, pins and sends orders; implements ``ProgrammeHandoff``."""

    def __init__(self, settings: Settings, db: Database, cache: AudioCache | None, *,
                 signing_key: Ed25519PrivateKey | None = None, clock: Clock | None = None) -> None:
        self.settings = settings
        self.db = db
        self.cache = cache
        self.signer = OrderSigner(signing_key or load_or_create_signing_key(settings.data_dir))
        self.clock = clock or SystemClock()
        self.lanes = DeliveryLanes(
            self, transport_options={"settings": settings, "links": self}, concurrency=settings.delivery_concurrency,
            retry_initial_s=settings.delivery_retry_initial_s, retry_max_s=settings.delivery_retry_max_s,
        )
        self._stopping = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self.links = LinkRecorder(self.store_links)
        # Order ids these lanes took while running, until the outbox no longer holds them queued:
        # the outbox watch submits only the others (stored by another replica, or before we led).
        self._taken: set[str] = set()
        self._taken_lock = threading.Lock()

    @property
    def pull(self) -> PullTransport | None:
        """The mailboxes agents long-poll (``POST /api/agent/pull``), once delivery runs in this process."""
        transport = self.lanes.transport("pull")
        return transport if isinstance(transport, PullTransport) else None

    def link_changed(self, cluster_id: str, connected: bool) -> None:
        """``LinkListener``: an agent connected (its lane retries now) or went away; kept for the pages."""
        number = cluster_id_from_wire(cluster_id)
        if number is None:
            return
        if connected:
            self.lanes.wake(number)
        self.links.note(number, connected, self.clock.now())  # written with the next batch (link_states)

    def store_links(self, changes: dict[int, LinkChange]) -> None:
        """``LinkStore``: write a batch of link changes in one transaction; re-send what came-back boxes miss."""
        with self.db.session() as s:
            existing = set(s.scalars(select(Cluster.id).where(Cluster.id.in_(list(changes)))))
            rows = [{"id": cluster_id, "link_state": "connected" if change.connected else "disconnected",
                     "link_changed_at": change.at} for cluster_id, change in changes.items() if cluster_id in existing]
            if rows:
                s.execute(update(Cluster), rows)  # by primary key, one executemany
        back = [cluster_id for cluster_id, change in changes.items() if change.connected and cluster_id in existing]
        if back:
            self.resend_unconfirmed(back, older_than_s=0)  # back on the broker: what it never confirmed

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while this process runs the delivery lanes (on a replica: while it holds the scheduler lease)."""
        return self.lanes.running

    def start(self) -> None:
        """Start sending (transports opened: agents may connect); resume the orders a previous run left queued.

        On several replicas only the scheduler lease holder runs this (``BroadcastScheduler``
        starts it when leading, closes it when stepping down); the others store orders in the
        outbox, and the holder's outbox watch sends them within ``OUTBOX_WATCH_S``.
        """
        if self.lanes.running:
            return
        with self._taken_lock:
            self._taken.clear()
        self.lanes.start()
        with self.db.session() as s:
            in_use = set(s.scalars(select(Cluster.transport).distinct()))
        self.lanes.open_transports(sorted(in_use | {"pull"}))
        self.links.start()
        self.resume()
        self._stopping.clear()
        self._housekeeper = threading.Thread(target=self._housekeeping_loop, name="delivery-housekeeping",
                                             daemon=True)
        self._housekeeper.start()
        log.info("delivery started (order key %s)", self.signer.key_id)

    def close(self) -> None:
        """Stop sending; queued orders stay stored for the next start."""
        self._stopping.set()
        self.lanes.close()
        self.links.close()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=5)
            self._housekeeper = None

    def resume(self) -> int:
        """Queue every stored order still waiting to be delivered; record the expired ones missed."""
        now = self.clock.now()
        outgoing: list[OutgoingOrder] = []
        with self.db.session() as s:
            for row in s.scalars(select(DeliveryOrder).where(DeliveryOrder.status == OrderStatus.QUEUED)
                                 .order_by(DeliveryOrder.seq)):  # fmt: skip
                cluster = s.get(Cluster, row.cluster_id)
                if cluster is None:
                    continue
                if row.expires_at > now:
                    outgoing.append(self._outgoing(row, cluster))
                    continue
                row.status, row.last_error = OrderStatus.EXPIRED, "server down until the order expired"
                delivery = delivery_of(s, row)
                if delivery is not None and advance(s, delivery, DeliveryState.MISSED, from_agent=False, error=failure_text(
                        "server_down", "Máy chủ không hoạt động cho tới khi lệnh phát hết hạn.")):
                    audit_delivery(s, delivery, action="delivery_missed", commune_id=cluster.commune_id,
                                   details={"order_id": row.order_id, "reason": "server_down"})
        self._submit(outgoing)
        if outgoing:
            log.info("resuming delivery of %d order(s)", len(outgoing))
        return len(outgoing)

    def take_up_outbox(self) -> int:
        """Submit queued, unexpired orders these lanes never took (another replica stored them); how many."""
        if not self.lanes.running:
            return 0
        now = self.clock.now()
        with self.db.session() as s:
            queued = list(s.execute(select(DeliveryOrder, Cluster).join(Cluster, Cluster.id == DeliveryOrder.cluster_id)
                                    .where(DeliveryOrder.status == OrderStatus.QUEUED, DeliveryOrder.expires_at > now)
                                    .order_by(DeliveryOrder.seq)).all())  # fmt: skip
            with self._taken_lock:
                self._taken &= {row.order_id for row, _cluster in queued}  # forget what left the queue
                outgoing = [self._outgoing(row, cluster) for row, cluster in queued if row.order_id not in self._taken]
        if outgoing:
            log.info("taking up %d order(s) stored by another replica", len(outgoing))
            self._submit(outgoing)
        return len(outgoing)

    def _submit(self, outgoing: list[OutgoingOrder]) -> None:
        if not outgoing or not self.lanes.running:
            return  # a standby: the outbox keeps them for the lanes' node
        with self._taken_lock:
            self._taken.update(order.order_id for order in outgoing)
        self.lanes.submit(outgoing)

    # --- ProgrammeHandoff ----------------------------------------------------------------------

    def hand_off(self, programme: ClusterProgramme) -> None:
        """Sign and store the order for ``programme`` (once per airing and cluster) and queue it."""
        failures = self.hand_off_many([programme], raise_errors=True)
        assert not failures

    def hand_off_many(self, programmes: Sequence[ClusterProgramme], *, raise_errors: bool = False,
                      keep_issued: bool = False) -> dict[int, str]:
        """``hand_off`` for many clusters in a few transactions; the clusters that failed, with why.

        A commune-wide airing to a thousand clusters is a thousand orders: one commit (and fsync)
        each would take seconds before the last order leaves; batches of ``HAND_OFF_BATCH`` do not.
        ``keep_issued``: a cluster that already holds a live order for the airing keeps it, even if
        this programme differs (a first hand-off or a resumed one must never replace what an agent
        may be playing; only a recall replaces).
        """
        now = self.clock.now()
        failures: dict[int, str] = {}
        # Queued on the lanes once every batch is stored: the lanes run in this process, and their
        # work on the first batches would compete (for the GIL) with signing the last ones.
        cancelled: list[str] = []
        outgoing: list[OutgoingOrder] = []
        try:
            for first in range(0, len(programmes), HAND_OFF_BATCH):
                chunk = programmes[first:first + HAND_OFF_BATCH]
                try:
                    self._hand_off_chunk(chunk, now, failures, cancelled, outgoing, raise_errors=raise_errors,
                                         keep_issued=keep_issued)
                except Exception as error:
                    # A busy database or a full disk is no cluster's fault, and one by one would meet it
                    # again: the caller's airing is retried whole (what this call stored stays stored).
                    if raise_errors or as_resource_error(error) is not None:
                        raise
                    # One cluster's fault (its counter, a row the database refuses...) must not keep the
                    # others of the batch silent, above all in an emergency: try them one by one.
                    log.exception("airing %s: a batch of %d hand-offs failed; retrying one by one",
                                  chunk[0].airing_id, len(chunk))
                    for programme in chunk:
                        try:
                            self._hand_off_chunk([programme], now, failures, cancelled, outgoing,
                                                 raise_errors=False, keep_issued=keep_issued)
                        except Exception as single:  # noqa: BLE001 - recorded as this cluster's failure
                            log.exception("airing %s: hand-off to cluster %s failed", programme.airing_id,
                                          programme.cluster_id)
                            failures[programme.cluster_id] = _failure(single)
        finally:  # what was stored goes out, even if a later batch raised
            self.lanes.cancel(cancelled)
            self._submit(outgoing)
        if programmes:
            log.info("airing %s: %d order(s) queued (play at %s)", programmes[0].airing_id,
                     len(programmes) - len(failures), programmes[0].play_at.isoformat())
        return failures

    def _hand_off_chunk(self, chunk: Sequence[ClusterProgramme], now: datetime, failures: dict[int, str],
                        cancelled: list[str], outgoing: list[OutgoingOrder], *, raise_errors: bool,
                        keep_issued: bool) -> None:
        """Sign and store one batch in one transaction; what to withdraw and send is added to the lists on commit."""
        stopped: list[str] = []
        sending: list[OutgoingOrder] = []
        self._pin(chunk)  # pinned before the orders commit: a crash between leaves no order unpinned
        with self.db.session() as s:
            clusters = {c.id: c for c in s.scalars(select(Cluster).where(
                Cluster.id.in_({p.cluster_id for p in chunk})))}
            for programme in chunk:
                cluster = clusters.get(programme.cluster_id)
                error: NotFound | ServiceFailure | None = None
                if cluster is None:  # deleted meanwhile: it fails alone
                    error = DeliveryClusterUnknown(f"Không còn cụm loa số {programme.cluster_id}.")
                elif cluster.order_seq >= MAX_SEQ - SEQ_HEADROOM:
                    error = ClusterSeqExhausted(
                        f"Cụm loa số {cluster.id} đã dùng hết số thứ tự lệnh phát; cần cài đặt lại máy điều khiển.",
                        detail=f"order_seq {cluster.order_seq}")
                if error is None:
                    continue
                if raise_errors:
                    raise error
                log.warning("airing %s: %s", programme.airing_id, error.message)
                failures[programme.cluster_id] = _failure(error)
                clusters.pop(programme.cluster_id, None)
            self._issue_chunk(s, [p for p in chunk if p.cluster_id in clusters], clusters, now, stopped, sending,
                              keep_issued=keep_issued)
        crash_point("handed_off")  # committed, not queued: start() resumes them from the outbox
        cancelled.extend(stopped)
        outgoing.extend(sending)

    def _issue_chunk(self, s: Session, chunk: Sequence[ClusterProgramme], clusters: dict[int, Cluster],
                     now: datetime, cancelled: list[str], outgoing: list[OutgoingOrder], *,
                     keep_issued: bool = False) -> None:
        # Everything the chunk needs is read in three queries and written at one commit.
        airing_ids, cluster_ids = {p.airing_id for p in chunk}, {p.cluster_id for p in chunk}
        live: defaultdict[tuple[int, int], list[DeliveryOrder]] = defaultdict(list)
        for row in s.scalars(select(DeliveryOrder).where(
                DeliveryOrder.airing_id.in_(airing_ids), DeliveryOrder.cluster_id.in_(cluster_ids),
                DeliveryOrder.kind == OrderKind.PLAY.value, DeliveryOrder.status.in_(_LIVE))
                .order_by(DeliveryOrder.created_at)):  # fmt: skip
            live[(row.airing_id, row.cluster_id)].append(row)
        deliveries = {(d.airing_id, d.cluster_id): d for d in s.scalars(select(Delivery).where(
            Delivery.airing_id.in_(airing_ids), Delivery.cluster_id.in_(cluster_ids)))}
        plans = [(p, next((row for row in live[(p.airing_id, p.cluster_id)]
                           if row.audio_sha256 == p.audio.sha256 and row.play_at == p.play_at), None))
                 for p in chunk]  # fmt: skip
        if keep_issued:
            plans = [(p, order) for p, order in plans if not self._keeps(p, order, live, clusters, outgoing)]
        seqs = reserve_seqs(s, [p.cluster_id for p, order in plans if order is None])
        issued: list[DeliveryOrder] = []
        for programme, order in plans:
            cluster = clusters[programme.cluster_id]
            to_send: list[DeliveryOrder] = []
            if order is None:
                old = live[(programme.airing_id, cluster.id)]
                # A different programme for an airing already handed off: withdraw the old one first.
                for row in old:
                    if row.status is OrderStatus.QUEUED:
                        row.status = OrderStatus.CANCELLED
                        cancelled.append(row.order_id)
                seq = seqs.pop(cluster.id, None)
                if any(row.status is OrderStatus.ACCEPTED for row in old):
                    # The stop takes the lower seq: the agent must accept it first, and it stops only
                    # what was issued before it, never the replacement below.
                    to_send.append(self._issue(s, cluster, seq or next_seq(s, cluster.id),
                                               airing_id=programme.airing_id, kind=OrderKind.STOP,
                                               priority=programme.priority, play_at=now,
                                               expires_at=max(now + STOP_MIN_TTL, programme.expires_at),
                                               batch=issued))
                    seq = None
                seq = seq or next_seq(s, cluster.id)
                order = self._issue(s, cluster, seq, airing_id=programme.airing_id, kind=OrderKind.PLAY,
                                    priority=programme.priority, play_at=programme.play_at,
                                    expires_at=programme.expires_at, programme=programme, issued_at=now,
                                    batch=issued)
                to_send.append(order)
            elif order.status is OrderStatus.QUEUED:
                to_send.append(order)  # handed off before, not delivered yet: the same bytes again
            self._point_delivery(s, programme, order, deliveries)
            outgoing.extend(self._outgoing(row, cluster) for row in to_send)
        self._insert_orders(s, issued)

    def _keeps(self, programme: ClusterProgramme, order: DeliveryOrder | None,
               live: dict[tuple[int, int], list[DeliveryOrder]], clusters: dict[int, Cluster],
               outgoing: list[OutgoingOrder]) -> bool:
        """True if the cluster keeps a live order that differs from ``programme`` (re-queued if not delivered)."""
        held = live[(programme.airing_id, programme.cluster_id)]
        if order is not None or not held:
            return False
        log.info("airing %s at cluster %s keeps its order %s", programme.airing_id, programme.cluster_id,
                 held[-1].order_id)
        if held[-1].status is OrderStatus.QUEUED:
            outgoing.append(self._outgoing(held[-1], clusters[programme.cluster_id]))
        return True

    def stop(self, airing_id: int, cluster_ids: Sequence[int]) -> None:
        """Withdraw queued orders of the airing and send each cluster a signed stop, ahead of anything else."""
        now = self.clock.now()
        cancelled: list[str] = []
        outgoing: list[OutgoingOrder] = []
        with self.db.session() as s:
            for cluster_id in cluster_ids:
                cluster = s.get(Cluster, cluster_id)
                if cluster is None:
                    continue
                live = self._live_orders(s, airing_id, cluster.id, OrderKind.PLAY)
                if not live:
                    continue
                for row in live:
                    if row.status is OrderStatus.QUEUED:
                        row.status = OrderStatus.CANCELLED
                        cancelled.append(row.order_id)
                expires_at = max([now + STOP_MIN_TTL, *(row.expires_at for row in live)])
                stop = self._issue(s, cluster, next_seq(s, cluster.id), airing_id=airing_id, kind=OrderKind.STOP,
                                   priority=live[0].priority,
                                   play_at=now, expires_at=expires_at)
                outgoing.append(self._outgoing(stop, cluster))
        self.lanes.cancel(cancelled)
        self._submit(outgoing)
        log.info("airing %s: stop sent to %d cluster(s)", airing_id, len(outgoing))

    # --- LaneBackend ---------------------------------------------------------------------------

    def resign(self, order_id: str) -> tuple[int, bytes]:
        """Sign a stored order again under a fresh seq (same order id); its seq and envelope."""
        with self.db.session() as s:
            row = s.get_one(DeliveryOrder, order_id)
            signed = PlayOrder.model_validate(json.loads(row.envelope)["order"])
            seq = next_seq(s, row.cluster_id)
            row.seq, row.envelope = seq, self._sign(signed.model_copy(update={"seq": seq}))
            s.execute(update(Delivery).where(Delivery.order_id == order_id).values(order_seq=seq))
            return seq, row.envelope.encode("utf-8")

    def address_of(self, cluster_id: int) -> tuple[str, ClusterAddress]:
        """The cluster's transport and address as the registry has them now."""
        with self.db.session() as s:
            cluster = s.get_one(Cluster, cluster_id)
            return cluster.transport, ClusterAddress(wire_cluster_id(cluster.id), cluster.agent_url)

    def record(self, reports: list[SendReport]) -> None:
        """Store what became of sent orders, and move their deliveries along."""
        # A fan-out reports thousands of outcomes: what they need is read a few hundred at a time,
        # and the changes are written at the commit (executemany), not flushed one order at a time.
        with self.db.session() as s, s.no_autoflush:
            for first in range(0, len(reports), IN_BATCH):
                chunk = reports[first:first + IN_BATCH]
                ids = [report.order_id for report in chunk]
                rows = {row.order_id: row for row in s.scalars(select(DeliveryOrder).where(
                    DeliveryOrder.order_id.in_(ids)))}
                s.scalars(select(Cluster).where(Cluster.id.in_({row.cluster_id for row in rows.values()}))).all()
                deliveries = {d.order_id: d for d in s.scalars(select(Delivery).where(Delivery.order_id.in_(ids)))}
                for report in chunk:
                    row = rows.get(report.order_id)
                    if row is not None:
                        record_outcome(s, row, report, delivery=deliveries.get(row.order_id))

    # --- internals -----------------------------------------------------------------------------

    def _issue(self, s: Session, cluster: Cluster, seq: int, *, airing_id: int, kind: OrderKind, priority: Priority,
               play_at: datetime, expires_at: datetime, programme: ClusterProgramme | None = None,
               issued_at: datetime | None = None, batch: list[DeliveryOrder] | None = None) -> DeliveryOrder:
        """Sign and store one order; with ``batch``, the row joins it for one multi-row insert (``_insert_orders``)."""
        audio = programme.audio if programme is not None else None
        order = PlayOrder(
            order_id=uuid.uuid4(), seq=seq, cluster_id=wire_cluster_id(cluster.id),
            airing_id=str(airing_id), kind=kind, priority=orders.Priority(str(priority)),
            audio_sha256=audio.sha256 if audio else None, audio_size=audio.size if audio else None,
            audio_url=audio_url(self.settings, audio.sha256, audio.fmt) if audio else None,
            play_at=play_at, expires_at=expires_at, issued_at=issued_at or self.clock.now(),
            key_id=self.signer.key_id, volume=cluster.volume if kind is OrderKind.PLAY else None,
        )
        row = DeliveryOrder(
            order_id=str(order.order_id), airing_id=airing_id, cluster_id=cluster.id, kind=kind.value,
            priority=priority, seq=order.seq, envelope=self._sign(order), audio_sha256=order.audio_sha256,
            status=OrderStatus.QUEUED, attempts=0, play_at=play_at, expires_at=expires_at, created_at=utc_now(),
        )
        if batch is None:
            s.add(row)
        else:
            batch.append(row)
        return row

    @staticmethod
    def _insert_orders(s: Session, rows: list[DeliveryOrder]) -> None:
        # One executemany in the caller's transaction: a thousand ORM inserts cost more than signing them.
        if rows:
            columns = [c.key for c in DeliveryOrder.__table__.columns]
            s.execute(DeliveryOrder.__table__.insert(), [{c: getattr(row, c) for c in columns} for row in rows])

    def _sign(self, order: PlayOrder) -> str:
        return json.dumps(self.signer.sign(order), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def _live_orders(s: Session, airing_id: int, cluster_id: int, kind: OrderKind) -> list[DeliveryOrder]:
        return list(s.scalars(select(DeliveryOrder).where(
            DeliveryOrder.airing_id == airing_id, DeliveryOrder.cluster_id == cluster_id,
            DeliveryOrder.kind == kind.value, DeliveryOrder.status.in_(_LIVE)).order_by(DeliveryOrder.created_at)))

    @staticmethod
    def _point_delivery(s: Session, programme: ClusterProgramme, order: DeliveryOrder,
                        deliveries: dict[tuple[int, int], Delivery]) -> None:
        delivery = deliveries.get((programme.airing_id, programme.cluster_id))
        if delivery is None:
            delivery = Delivery(airing_id=programme.airing_id, cluster_id=programme.cluster_id,
                                state=DeliveryState.PENDING, attempts=0)
            s.add(delivery)
        audio = programme.audio
        delivery.audio_sha256, delivery.audio_size, delivery.duration_s = audio.sha256, audio.size, audio.duration_s
        delivery.play_at, delivery.expires_at = programme.play_at, programme.expires_at
        if delivery.order_id != order.order_id:
            delivery.order_id, delivery.order_seq = order.order_id, order.seq
            delivery.state, delivery.error, delivery.sent_at = DeliveryState.PENDING, None, None
            delivery.downloaded_at = delivery.played_at = None
        if order.status is OrderStatus.ACCEPTED:
            advance(s, delivery, DeliveryState.SENT, from_agent=False)

    def _outgoing(self, row: DeliveryOrder, cluster: Cluster) -> OutgoingOrder:
        rank = STOP_RANK if row.kind == OrderKind.STOP else PRIORITY_RANKS[str(row.priority)]
        return OutgoingOrder(
            order_id=row.order_id, cluster_id=cluster.id, kind=row.kind, rank=rank, seq=row.seq,
            envelope=row.envelope.encode("utf-8"), expires_at=row.expires_at.timestamp(),
            transport=cluster.transport, target=ClusterAddress(wire_cluster_id(cluster.id), cluster.agent_url),
        )

    def _pin(self, programmes: Sequence[ClusterProgramme]) -> None:
        # The cache must not evict audio an agent may still download (until the airing's orders
        # expire). One pin per airing and audio, not per cluster: a pin reads and rewrites the pins
        # file under a lock, and a commune-wide airing is one audio for a thousand clusters.
        if self.cache is None:
            return
        # A province-wide emergency is a hundred airings of one audio: their pins are one write.
        wanted = {(p.audio.path.stem, f"{PIN_PREFIX}{p.airing_id}"): p.audio.path for p in programmes}
        pinned = self.cache.pinned()
        missing: list[tuple[str, str]] = []
        for (key, holder), path in wanted.items():
            if holder in pinned.get(key, frozenset()):
                continue
            try:
                check_key(key)
            except InvalidCacheKey:
                log.warning("audio %s is not an audio cache entry; not pinned", path)
                continue
            missing.append((key, holder))
        self.cache.pin_many(missing)

    def _housekeeping_loop(self) -> None:
        ticks = 0
        while not self._stopping.wait(OUTBOX_WATCH_S):
            ticks += 1
            try:
                self.take_up_outbox()
                if ticks % round(RESEND_INTERVAL_S / OUTBOX_WATCH_S) == 0:
                    self.resend_unconfirmed()
                if ticks * OUTBOX_WATCH_S >= HOUSEKEEPING_INTERVAL_S:
                    ticks = 0
                    self.housekeeping()
            except Exception as error:  # noqa: BLE001 - housekeeping must never take delivery down
                fault = as_resource_error(error)
                if fault is None:
                    log.exception("delivery housekeeping failed")
                else:  # a busy database: the next tick tries again
                    log.warning("delivery housekeeping: [%s] %s", fault.code, fault.detail)

    def resend_unconfirmed(self, cluster_ids: Sequence[int] | None = None, *,
                           older_than_s: float = RESEND_INTERVAL_S) -> int:
        """Queue again orders a broker took for a connected box that never confirmed them; how many.

        Over ``mqtt`` a PUBACK only says the broker has the order. A broker that restarted without
        its queue, or a box whose session it forgot, leaves the order there unseen: while the box is
        connected and the order valid, it goes again (the agent answers a copy it holds as a
        duplicate, so nothing plays twice).
        """
        with self.db.session() as s:
            outgoing = [self._outgoing(row, cluster) for row, cluster in unconfirmed_on_broker(
                s, self.clock.now(), older_than_s=older_than_s, cluster_ids=cluster_ids)]
        if outgoing:
            log.info("sending %d order(s) again that a broker took but no box confirmed", len(outgoing))
            self._submit(outgoing)
        return len(outgoing)

    def housekeeping(self) -> int:
        """Unpin audio whose airings' orders have all expired; forget old agent reports; record unconfirmed
        orders that expired as missed. The number unpinned."""
        now = self.clock.now()
        released = 0
        with self.db.session() as s:
            s.execute(delete(AgentReportRecord).where(AgentReportRecord.received_at < now - KEEP_REPORTS))
            expire_unconfirmed(s, now)
            if self.cache is None:
                return 0
            pins = [(key, holder) for key, holders in self.cache.pinned().items()
                    for holder in holders if holder.startswith(PIN_PREFIX)]  # fmt: skip
            airings = {int(holder.removeprefix(PIN_PREFIX)) for _key, holder in pins
                       if holder.removeprefix(PIN_PREFIX).isdigit()}  # fmt: skip
            last_expiry = dict(s.execute(  # type: ignore[arg-type]
                select(DeliveryOrder.airing_id, func.max(DeliveryOrder.expires_at))
                .where(DeliveryOrder.airing_id.in_(airings)).group_by(DeliveryOrder.airing_id)).all())
        for key, holder in pins:
            airing = holder.removeprefix(PIN_PREFIX)
            expires_at = last_expiry.get(int(airing)) if airing.isdigit() else None
            if expires_at is None or aware_utc(expires_at) <= now:
                self.cache.unpin(key, holder)
                released += 1
        return released
