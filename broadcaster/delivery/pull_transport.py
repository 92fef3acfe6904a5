"""The ``pull`` transport: agents dial out and long-poll; the server hands each envelope to the waiting poll.

Every cluster has a mailbox. A lane's ``send`` puts the envelope in it and wakes the agent's
waiting poll (in the API's event loop), which returns the envelope as its body; the agent's
verdict comes back in its next poll, a few milliseconds later, and completes the ``send``. An
agent that is not connected makes ``send`` raise ``TransportUnavailable`` at once, so the lane
backs off; when it connects again, ``LinkListener.link_changed`` wakes the lane at once.

A cluster counts as connected while a poll waits, or within ``idle_s`` of its last one (the
agent is between two polls). One poll per cluster at a time: a newer poll (a reconnect after a
dropped connection the server has not noticed yet) ends the older one.

Thread-safety: lanes call ``send`` in their loop, the API calls ``exchange`` in its own; the
mailboxes are guarded by one lock and each side only wakes the other's futures thread-safely.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from broadcaster.delivery.agent_auth import AgentRequestReplayed
from broadcaster.delivery.pull_wire import PullAnswer
from broadcaster.delivery.transport import (
    ClusterAddress,
    LinkListener,
    SendOutcome,
    SendResult,
    Transport,
    TransportUnavailable,
    register_transport,
)

if TYPE_CHECKING:
    from broadcaster.config import Settings

SWEEP_S = 1.0


@dataclass(eq=False)
class _Offer:
    order_id: str | None
    seq: int | None
    envelope: bytes
    answer: concurrent.futures.Future[SendResult] = field(default_factory=concurrent.futures.Future)


@dataclass(eq=False)
class _Mailbox:
    offer: _Offer | None = None  # waits for the agent's next poll
    handed: _Offer | None = None  # given to a poll; its verdict is awaited
    waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
    connected: bool = False
    last_seen: float = 0.0  # monotonic
    last_poll_ms: int = 0  # the newest poll's signed timestamp: older ones are replays


@register_transport("pull")
class PullTransport(Transport):
    """Mailboxes for agents that long-poll the server (``POST /api/agent/pull``)."""

    name = "pull"

    def __init__(self, *, settings: Settings | None = None, links: LinkListener | None = None,
                 answer_timeout_s: float | None = None, idle_s: float = 5.0, **_options: Any) -> None:
        self._answer_timeout_s = answer_timeout_s or (settings.delivery_timeout_s if settings else 10.0)
        self._idle_s = idle_s
        self._links = links
        self._lock = threading.Lock()
        self._boxes: dict[str, _Mailbox] = {}
        self._sweeper: asyncio.Task[None] | None = None

    # --- the lanes' side -----------------------------------------------------------------------

    async def open(self) -> None:
        """Start noticing agents that went away."""
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name="pull-sweeper")

    async def send(self, target: ClusterAddress, envelope: bytes) -> SendResult:
        """Hand the envelope to the cluster's poll and wait for the agent's verdict."""
        order_id, seq = _identity(envelope)
        offer = _Offer(order_id, seq, envelope)
        with self._lock:
            box = self._boxes.get(target.cluster_id)
            if box is None or not self._is_connected(box, time.monotonic()):
                raise TransportUnavailable(f"Cụm loa {target.cluster_id} chưa kết nối tới máy chủ.",
                                           detail="no pull connection")
            box.offer = offer
            self._wake(box)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(offer.answer), self._answer_timeout_s)
        except TimeoutError:
            raise TransportUnavailable(f"Cụm loa {target.cluster_id} không trả lời lệnh phát.",
                                       detail=f"no verdict within {self._answer_timeout_s} s") from None
        finally:
            with self._lock:
                if box.offer is offer:
                    box.offer = None
                if box.handed is offer:
                    box.handed = None

    async def aclose(self) -> None:
        """Stop the sweeper; waiting polls end with nothing."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        with self._lock:
            for box in self._boxes.values():
                self._wake(box)

    # --- the API's side ------------------------------------------------------------------------

    async def exchange(self, cluster_id: str, answers: Sequence[PullAnswer], *, timestamp_ms: int, wait_s: float,
                       gone: Awaitable[Any] | None = None) -> bytes | None:
        """One poll of ``cluster_id``: deliver its answers, then the next envelope, or None after ``wait_s``."""
        loop = asyncio.get_running_loop()
        with self._lock:
            box = self._boxes.setdefault(cluster_id, _Mailbox())
            if timestamp_ms <= box.last_poll_ms:
                raise AgentRequestReplayed("Yêu cầu nhận lệnh này đã gửi rồi (gửi lại): bị từ chối.",
                                           detail=f"poll timestamp {timestamp_ms} <= {box.last_poll_ms}")
            box.last_poll_ms = timestamp_ms
            for answer in answers:
                _settle(box, answer)
            self._wake(box)  # an older poll of the same agent ends: this one takes over
            came_back = not box.connected
            box.connected, box.last_seen = True, time.monotonic()
        if came_back and self._links is not None:
            self._links.link_changed(cluster_id, True)
        gone_task = asyncio.ensure_future(gone) if gone is not None else None
        deadline = loop.time() + wait_s
        woken: asyncio.Future[None] | None = None
        try:
            while True:
                with self._lock:
                    if box.offer is not None:
                        box.handed, box.offer = box.offer, None
                        return box.handed.envelope
                    if woken is not None:
                        return None  # woken with nothing for us: a newer poll took over, or closing
                    woken = loop.create_future()
                    box.waiter = (loop, woken)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                waits: set[asyncio.Future[Any]] = {woken} | ({gone_task} if gone_task else set())
                await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                if (gone_task is not None and gone_task.done()) or not woken.done():
                    return None  # the agent hung up (it will poll again), or the wait is over
        finally:
            if gone_task is not None:
                gone_task.cancel()
            with self._lock:
                if box.waiter is not None and box.waiter[1] is woken:
                    box.waiter = None
                box.last_seen = time.monotonic()

    def connected_clusters(self) -> list[str]:
        """Clusters whose agents are connected now."""
        now = time.monotonic()
        with self._lock:
            return [cluster for cluster, box in self._boxes.items() if self._is_connected(box, now)]

    # --- internals -----------------------------------------------------------------------------

    def _is_connected(self, box: _Mailbox, now: float) -> bool:
        return box.connected and (box.waiter is not None or now - box.last_seen < self._idle_s)

    @staticmethod
    def _wake(box: _Mailbox) -> None:
        if box.waiter is not None:
            loop, woken = box.waiter
            box.waiter = None
            with contextlib.suppress(RuntimeError):  # that loop is closed: its poll is gone anyway
                loop.call_soon_threadsafe(_set_once, woken)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            now, dropped = time.monotonic(), []
            with self._lock:
                for cluster, box in self._boxes.items():
                    if box.connected and not self._is_connected(box, now):
                        box.connected = False
                        dropped.append(cluster)
            if self._links is not None:
                for cluster in dropped:
                    self._links.link_changed(cluster, False)


def _settle(box: _Mailbox, answer: PullAnswer) -> None:
    offer = box.handed
    if offer is None or offer.answer.done():
        return
    if answer.order_id is not None and (str(answer.order_id) != offer.order_id or answer.seq != offer.seq):
        return  # a verdict on an older copy: the lane has moved on
    box.handed = None
    outcome = SendOutcome(answer.outcome)
    offer.answer.set_result(SendResult(outcome, answer.code, answer.message))


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _identity(envelope: bytes) -> tuple[str | None, int | None]:
    try:
        order = json.loads(envelope)["order"]
        return str(order["order_id"]), int(order["seq"])
    except (ValueError, KeyError, TypeError):
        return None, None
