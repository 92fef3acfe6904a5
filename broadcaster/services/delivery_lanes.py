"""Sending signed orders: one lane per cluster, all lanes on one event loop in one thread.

Each cluster gets a *lane* that sends its orders one at a time, so the agent sees sequence
numbers only go up (it refuses an older seq after a newer one). A lane always sends its most
urgent order first: stops, then emergencies, then priority, then normal; by seq within a rank.
An order that cannot get through is retried with exponential backoff and jitter (tenacity)
until it expires; an urgent order arriving meanwhile wakes the lane and goes first.

When an order is sent after another with a higher seq went out (an emergency overtook it), its
seq would now look old to the agent, so the lane has it signed again with a fresh seq (same
order id). The agent refuses a stale seq with 409; the lane then re-signs once and sends again,
and a 409 on the re-signed copy can only mean the agent holds the order under an earlier seq:
it is delivered. Lanes across clusters run side by side, at most ``concurrency`` sends at once.

The loop runs in its own thread: hand-offs come from scheduler threads and request handlers,
and a fan-out to a thousand clusters should not wait on the API's event loop (nor the reverse).
Outcomes go back to the database in batches through ``LaneBackend.record``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from broadcaster.delivery.transport import (
    ClusterAddress,
    SendOutcome,
    Transport,
    TransportUnavailable,
    UnknownTransport,
    create_transport,
)
from broadcaster.errors import BroadcasterError
from broadcaster.resource_faults import as_resource_error

log = logging.getLogger(__name__)
STOP_RANK = 0
PRIORITY_RANKS = {"emergency": 1, "priority": 2, "normal": 3}
_FLUSH_GATHER_S = 0.05  # let outcomes of a fan-out pile up a moment: one transaction for many
_RECORD_RETRY_S = 1.0  # the database refused the outcomes (busy, full): try again this soon
# A lane keeps the cluster's address between retries instead of asking the database before each one
# (a thousand offline clusters retrying are a thousand reads a round). It asks again when the
# address may have changed: the agent came back (``wake``), or this many sends failed since the
# last read (an admin may have fixed a wrong address).
ADDRESS_REFRESH_FAILURES = 5


@dataclass(eq=False)
class OutgoingOrder:
    """One signed order on its way: what the lane needs, nothing it must look up."""

    order_id: str
    cluster_id: int
    kind: str
    rank: int
    seq: int
    envelope: bytes
    expires_at: float  # Unix time
    transport: str
    target: ClusterAddress
    attempts: int = 0
    last_error: str | None = None
    resigned_after_refusal: bool = False
    cancelled: bool = False
    stale_target: bool = field(default=False, repr=False)


@dataclass(frozen=True)
class SendReport:
    """What finally became of one order: ``result`` is accepted, refused, expired, unreachable or cancelled."""

    order_id: str
    result: str
    attempts: int
    at: float
    code: str | None = None
    message: str | None = None


class LaneBackend(Protocol):
    """What the lanes need from the delivery service (called in worker threads)."""

    def resign(self, order_id: str) -> tuple[int, bytes]:
        """Sign the order again with a fresh seq; its new seq and envelope."""
        ...

    def address_of(self, cluster_id: int) -> tuple[str, ClusterAddress]:
        """The cluster's transport name and address as the registry has them now."""
        ...

    def record(self, reports: list[SendReport]) -> None:
        """Store the outcomes in the database."""
        ...


class _Preempted(Exception):
    """A more urgent order (or a cancellation) needs the lane now."""


@dataclass(eq=False)
class _Lane:
    pending: dict[str, OutgoingOrder] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    current: OutgoingOrder | None = None
    task: asyncio.Task[None] | None = None
    highest_sent_seq: int = 0
    address: tuple[str, ClusterAddress] | None = None  # transport and address, newest known (None: read again)
    failures: int = 0  # failed sends since ``address`` was read

    def best(self) -> OutgoingOrder:
        return min(self.pending.values(), key=lambda order: (order.rank, order.seq))


class DeliveryLanes:
    """Per-cluster ordered sending with retries, on a private event loop thread."""

    def __init__(self, backend: LaneBackend, *, transport_options: dict[str, object] | None = None,
                 concurrency: int = 64, retry_initial_s: float = 1.0, retry_max_s: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._backend = backend
        self._transport_options = transport_options or {}
        self._concurrency = concurrency
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lanes: dict[int, _Lane] = {}
        self._transports: dict[str, Transport] = {}
        self._semaphore: asyncio.Semaphore | None = None
        self._outbox: list[SendReport] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False

    # --- thread-safe surface -------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop thread."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._semaphore = asyncio.Semaphore(self._concurrency)
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="delivery-lanes", daemon=True)
        self._thread.start()
        ready.wait()

    def submit(self, orders: Iterable[OutgoingOrder]) -> None:
        """Queue orders for sending (an order already queued is ignored)."""
        batch = list(orders)

        def enqueue_all() -> None:
            for order in batch:
                self._enqueue(order)

        if batch:
            self._call(enqueue_all)

    def cancel(self, order_ids: Iterable[str]) -> None:
        """Withdraw orders not delivered yet (reported ``cancelled``)."""
        ids = set(order_ids)
        if ids:
            self._call(lambda: self._cancel(ids))

    def wake(self, cluster_id: int) -> None:
        """The cluster's agent is reachable again: retry its lane's order now, not after the backoff."""
        def wake_lane() -> None:
            lane = self._lanes.get(cluster_id)
            if lane is not None:
                lane.address = None  # the box is back, perhaps elsewhere: read its address again
                lane.wake.set()

        if self._loop is not None:
            self._call(wake_lane)

    def open_transports(self, names: Iterable[str], timeout_s: float = 30.0) -> None:
        """Create and open these transports now (connections, subscriptions), not at their first send."""
        async def open_all() -> None:
            for name in names:
                try:
                    transport = self._transport(name)
                except UnknownTransport as error:
                    log.error("%s", error.message)
                    continue
                try:
                    await transport.open()
                except Exception:  # noqa: BLE001 - a broker down at start-up is retried by the transport's sends
                    log.exception("transport %s could not be opened", name)

        if self._loop is None:
            raise RuntimeError("delivery lanes are not running")
        asyncio.run_coroutine_threadsafe(open_all(), self._loop).result(timeout=timeout_s)

    def transport(self, name: str) -> Transport | None:
        """The transport of this name if the lanes have created it (the pull endpoint needs its mailboxes)."""
        return self._transports.get(name)

    def pending_count(self) -> int:
        """Orders queued or being sent, all clusters together."""
        loop = self._loop
        if loop is None:
            return 0
        future = asyncio.run_coroutine_threadsafe(self._count(), loop)
        return future.result(timeout=10)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop sending (queued orders stay stored for the next start), flush outcomes, stop the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=timeout_s)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=timeout_s)
        self._loop = self._thread = None

    @property
    def running(self) -> bool:
        """True between ``start`` and ``close`` (on a replica: while it holds the scheduler lease)."""
        return self._loop is not None

    def _call(self, action: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None:
            # Not running here (a standby replica): the orders are in the outbox; the lanes' node sends them.
            log.debug("delivery lanes not running in this process: orders left to the outbox")
            return
        with contextlib.suppress(RuntimeError):  # closed between the look and the call: the same
            loop.call_soon_threadsafe(action)

    # --- in the loop ---------------------------------------------------------------------------

    async def _count(self) -> int:
        return sum(len(lane.pending) for lane in self._lanes.values())

    def _enqueue(self, order: OutgoingOrder) -> None:
        lane = self._lanes.setdefault(order.cluster_id, _Lane())
        if order.order_id in lane.pending:
            return
        lane.pending[order.order_id] = order
        lane.address, lane.failures = (order.transport, order.target), 0  # just read from the registry
        if lane.current is not None and order.rank < lane.current.rank:
            lane.wake.set()  # an urgent order must not sit behind a backoff sleep
        if lane.task is None or lane.task.done():
            lane.task = asyncio.get_running_loop().create_task(self._drain(lane), name=f"lane-{order.cluster_id}")

    def _cancel(self, order_ids: set[str]) -> None:
        for lane in self._lanes.values():
            for order_id in order_ids & lane.pending.keys():
                order = lane.pending[order_id]
                order.cancelled = True  # the lane drops it before its next attempt
                if order is lane.current:
                    lane.wake.set()

    async def _drain(self, lane: _Lane) -> None:
        while lane.pending:
            for order in [order for order in lane.pending.values() if order.cancelled]:
                del lane.pending[order.order_id]
                self._report(order, "cancelled")
            if not lane.pending:
                break
            order = lane.best()
            lane.current = order
            try:
                result, code, message = await self._deliver(lane, order)
            except _Preempted:
                continue
            except Exception as error:  # noqa: BLE001 - one broken order must not stall the cluster's lane
                fault = as_resource_error(error)
                if fault is None:
                    log.exception("sending order %s failed unexpectedly", order.order_id)
                    result, code, message = "unreachable", "delivery_internal_error", repr(error)
                else:  # a busy database or a full disk: expected under load, named, no traceback
                    log.warning("sending order %s: [%s] %s", order.order_id, fault.code, fault.detail)
                    result, code, message = "unreachable", fault.code, fault.message
            finally:
                lane.current = None
            lane.pending.pop(order.order_id, None)
            self._report(order, result, code, message)

    async def _deliver(self, lane: _Lane, order: OutgoingOrder) -> tuple[str, str | None, str | None]:
        def past_expiry(state: RetryCallState) -> bool:
            return self._clock() + (state.upcoming_sleep or 0.0) > order.expires_at

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransportUnavailable),
            wait=wait_exponential_jitter(multiplier=self._retry_initial_s, max=self._retry_max_s,
                                         jitter=self._retry_initial_s),
            stop=past_expiry,
            sleep=lambda seconds: self._nap(lane, order, seconds),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(lane, order)
        except RetryError:
            pass
        # Only through RetryError: the next wait would end after the order expired.
        return "unreachable", "transport_unavailable", order.last_error

    async def _nap(self, lane: _Lane, order: OutgoingOrder, seconds: float) -> None:
        if order.cancelled or self._more_urgent(lane, order):
            raise _Preempted
        with contextlib.suppress(TimeoutError):  # (a wake since the send began ends it: see _attempt)
            await asyncio.wait_for(lane.wake.wait(), timeout=seconds)
        if order.cancelled or self._more_urgent(lane, order):
            raise _Preempted

    @staticmethod
    def _more_urgent(lane: _Lane, order: OutgoingOrder) -> bool:
        return any(other.rank < order.rank for other in lane.pending.values() if other is not order)

    async def _attempt(self, lane: _Lane, order: OutgoingOrder) -> tuple[str, str | None, str | None]:
        if order.cancelled:
            return "cancelled", None, None
        if self._clock() > order.expires_at:
            return "unreachable", "transport_unavailable", order.last_error
        if order.seq < lane.highest_sent_seq:
            await self._resign(order)
        if order.stale_target:
            order.transport, order.target = await self._address(lane, order.cluster_id)
            order.stale_target = False
        try:
            transport = self._transport(order.transport)
        except UnknownTransport as error:
            return "refused", error.code, error.message
        while True:
            lane.highest_sent_seq = max(lane.highest_sent_seq, order.seq)
            order.attempts += 1
            lane.wake.clear()  # a wake from here on (the box reconnects mid-send) must cut the backoff after it
            assert self._semaphore is not None
            try:
                async with self._semaphore:
                    result = await transport.send(order.target, order.envelope)
            except TransportUnavailable as error:
                order.last_error = error.message
                order.stale_target = True  # an admin may have fixed the address meanwhile
                lane.failures += 1
                log.debug("order %s to cluster %s not delivered (%s): %s", order.order_id, order.cluster_id,
                          error.code, error.detail)
                raise
            if result.delivered:
                return "accepted", None, None
            if result.outcome is SendOutcome.REPLAYED:
                if order.resigned_after_refusal:
                    # The re-signed copy has the newest seq, so only its id can be known: the agent
                    # accepted an earlier copy whose answer we never got.
                    return "accepted", None, None
                order.resigned_after_refusal = True
                await self._resign(order)
                continue
            if result.outcome is SendOutcome.EXPIRED:
                return "expired", result.code, result.message
            return "refused", result.code, result.message

    async def _address(self, lane: _Lane, cluster_id: int) -> tuple[str, ClusterAddress]:
        if lane.address is None or lane.failures >= ADDRESS_REFRESH_FAILURES:
            lane.address = await asyncio.to_thread(self._backend.address_of, cluster_id)
            lane.failures = 0
        return lane.address

    async def _resign(self, order: OutgoingOrder) -> None:
        order.seq, order.envelope = await asyncio.to_thread(self._backend.resign, order.order_id)

    def _transport(self, name: str) -> Transport:
        transport = self._transports.get(name)
        if transport is None:
            transport = self._transports[name] = create_transport(name, **self._transport_options)
        return transport

    def _report(self, order: OutgoingOrder, result: str, code: str | None = None, message: str | None = None) -> None:
        if result != "accepted":
            log.warning("order %s to cluster %s: %s %s", order.order_id, order.cluster_id, result,
                        f"[{code}] {message}" if code or message else "")
        self._outbox.append(SendReport(order.order_id, result, order.attempts, self._clock(), code, message))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(_FLUSH_GATHER_S)
        while self._outbox:
            batch, self._outbox = self._outbox, []
            if await self._record(batch):
                continue
            # One outcome that cannot be stored must not hold back the others': store them one by
            # one; what still fails (a busy or full database) waits here, in order, and goes in a moment.
            kept = [report for report in batch if len(batch) == 1 or not await self._record([report])]
            self._outbox = kept + self._outbox
            if self._closing:
                return
            await asyncio.sleep(_RECORD_RETRY_S)

    async def _record(self, batch: list[SendReport]) -> bool:
        try:
            await asyncio.to_thread(self._backend.record, batch)
        except BroadcasterError as error:
            log.warning("could not record %d delivery outcome(s) yet: %s (%s)", len(batch), error.message,
                        error.detail)
        except Exception as error:  # noqa: BLE001 - kept and tried again: an outcome must not be lost
            log.warning("could not record %d delivery outcome(s) yet: %r", len(batch), error)
        else:
            return True
        return False

    async def _shutdown(self) -> None:
        self._closing = True
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None and not lane.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._lanes.clear()
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._outbox:
            await self._flush()
        for transport in self._transports.values():
            with contextlib.suppress(Exception):
                await transport.aclose()
        self._transports.clear()
