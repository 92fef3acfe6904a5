"""The door: an envelope becomes an accepted order only if it passes every check.

Checks, in order: the envelope parses; its Ed25519 signature verifies under a trusted server
key; it names this cluster; it has not expired; and it is not a replay (its ``order_id`` is new
and its ``seq`` is above the last accepted one — both remembered in SQLite). An accepted order
is stored before the answer goes out, reported ``received`` and handed to the conductor.

Refusals are logged and, when the order is attributable (the signature checked out, so the
server did issue it), reported as ``refused`` with the order_* code as reason. An exact copy
of an accepted order is answered ``order_replayed`` too, but not reported: it is the server
retrying after a lost answer, and the original stands.
"""

from __future__ import annotations

import json
import logging

from broadcaster.agent.clock import ServerClock
from broadcaster.agent.conductor import Conductor
from broadcaster.agent.reporting import Reporter
from broadcaster.agent.store import AgentStore
from broadcaster.delivery.orders import (
    OrderRejected,
    OrderReplayed,
    OrderVerifier,
    PlayOrder,
    ReportStage,
    canonical_bytes,
)

log = logging.getLogger(__name__)


class Intake:
    """Verifies, de-duplicates, stores and dispatches incoming envelopes."""

    def __init__(self, *, cluster_id: str, verifier: OrderVerifier, store: AgentStore, reporter: Reporter,
                 conductor: Conductor, clock: ServerClock) -> None:
        self._cluster_id = cluster_id
        self._verifier = verifier
        self._store = store
        self._reporter = reporter
        self._conductor = conductor
        self._clock = clock

    def accept(self, body: bytes) -> PlayOrder:
        """Accept one envelope or raise an ``OrderRejected`` subclass (already logged and reported)."""
        try:
            # Expiry is judged in server time, as the agent estimates it, whatever its own clock says.
            order = self._verifier.verify(body, cluster_id=self._cluster_id, now=self._clock.now_datetime())
            # Store the order object exactly as signed, so a retry can be recognised byte for byte.
            order_json = canonical_bytes(json.loads(body)["order"]).decode("utf-8")
            self._store.accept(order, order_json)
        except OrderRejected as error:
            self._refused(error)
            raise
        self._clock.at_least(order.issued_at.timestamp())
        log.info("accepted order %s seq %d (%s, %s) for %s", order.order_id, order.seq, order.kind.value,
                 order.priority.value, order.play_at.isoformat())
        self._reporter.report(ReportStage.RECEIVED, order)
        self._conductor.submit(order)
        return order

    def _refused(self, error: OrderRejected) -> None:
        order = error.order
        which = f"order {order.order_id} seq {order.seq}" if order else "unattributable envelope"
        log.warning("refused %s: %s (%s)", which, error.code, error.detail or error.message)
        if order is None or (isinstance(error, OrderReplayed) and error.duplicate):
            return
        self._reporter.report(ReportStage.REFUSED, order, reason=error.code, message=error.message)
