"""What the agent tells the server: reports (through a persistent outbox) and heartbeats.

Every report is first written to the SQLite outbox, then sent in batches, oldest first, to
``POST {server}/api/agent/reports`` (a JSON list of ``AgentReport``). Nothing newer is sent
before everything older was acknowledged (2xx), so the server sees each cluster's reports in
order; while it is unreachable they wait on disk and are retried with backoff, and playing goes
on. A heartbeat that gets through cuts the backoff short: the server is back, so the queued
reports go at once rather than after a wait of up to ``retry_max_s``. A batch the server refuses
as malformed (422) would be refused for ever: it is logged and dropped rather than block every
later report. Heartbeats (``POST {server}/api/agent/heartbeat``) are not queued: only the latest
matters.

``ServerClient`` signs every request with the cluster's key (``broadcaster.delivery.agent_auth``),
stamps it in server time, and feeds each answer's server timestamps to the ``ServerClock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broadcaster.agent.clock import ServerClock
from broadcaster.agent.retry import Backoff
from broadcaster.agent.store import AgentStore
from broadcaster.delivery.agent_auth import sign_agent_request
from broadcaster.delivery.orders import LOCAL_ZONE, AgentReport, Heartbeat, PlayOrder, ReportStage
from broadcaster.delivery.pull_wire import TIME_RECEIVED_HEADER, TIME_SENT_HEADER

log = logging.getLogger(__name__)
REPORTS_PATH = "/api/agent/reports"
HEARTBEAT_PATH = "/api/agent/heartbeat"
_PERMANENT_REFUSALS = (400, 413, 422)


class ServerRefused(Exception):
    """The server answered, but not with 2xx."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def local_time(unix: float) -> datetime:
    """A Unix time as an aware datetime in the project's zone."""
    return datetime.fromtimestamp(unix, LOCAL_ZONE)


class ServerClient:
    """Signed POSTs to the server's agent endpoints; every answer is a clock sample."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, cluster_id: str, key: Ed25519PrivateKey,
                 clock: ServerClock) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._cluster_id = cluster_id
        self._key = key
        self.clock = clock
        self._last_ms = 0

    async def post(self, path: str, purpose: str, body: bytes, *, timeout: float | None = None) -> httpx.Response:
        """POST signed ``body``; raises ``httpx.HTTPError``. A refusal for a wrong clock is retried once, corrected."""
        for attempt in (1, 2):
            # Strictly increasing stamps: the server refuses a heartbeat or poll not newer than the last.
            timestamp_ms = self._last_ms = max(int(self.clock.now() * 1000), self._last_ms + 1)
            headers = sign_agent_request(self._key, self._cluster_id, purpose, body, timestamp_ms=timestamp_ms)
            headers["Content-Type"] = "application/json"
            sent = self.clock.local_now()
            kwargs: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
            response = await self._http.post(self._base_url + path, content=body, headers=headers, **kwargs)
            self._sample(response, sent, self.clock.local_now())
            if attempt == 1 and response.status_code == 401 and _code(response) == "agent_clock_skew":
                log.warning("server refused our clock; corrected by %.3f s, retrying", self.clock.offset_s)
                continue
            return response
        raise AssertionError("unreachable")

    async def post_json(self, path: str, purpose: str, body: bytes) -> None:
        """POST an already-encoded JSON body; raises ``httpx.HTTPError`` or ``ServerRefused``."""
        response = await self.post(path, purpose, body)
        if not response.is_success:
            raise ServerRefused(f"{path}: HTTP {response.status_code} {response.text[:200]}", response.status_code)

    def _sample(self, response: httpx.Response, sent: float, received: float) -> None:
        try:
            server_received = float(response.headers[TIME_RECEIVED_HEADER])
            server_sent = float(response.headers[TIME_SENT_HEADER])
        except (KeyError, ValueError):
            return
        self.clock.add_exchange(sent, server_received, server_sent, received)


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


class Reporter:
    """Queues reports durably and delivers them in order."""

    def __init__(self, store: AgentStore, server: ServerClient, cluster_id: str, backoff: Backoff,
                 batch_size: int = 50) -> None:
        self._clock = server.clock
        self._store = store
        self._server = server
        self._cluster_id = cluster_id
        self._backoff = backoff
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._reachable = asyncio.Event()  # set by a delivered heartbeat: stop backing off
        self._failing = False

    def report(self, stage: ReportStage, order: PlayOrder | None = None, *, reason: str | None = None,
               message: str | None = None, started_at: float | None = None, ended_at: float | None = None) -> None:
        """Queue one report (durably, before returning) and wake the sender."""
        fields: dict[str, Any] = {
            "report_id": uuid.uuid4(), "cluster_id": self._cluster_id, "stage": stage,
            "at": local_time(self._clock.now()), "reason": reason, "message": message,
        }
        if order is not None:
            fields |= {"order_id": order.order_id, "order_seq": order.seq, "airing_id": order.airing_id,
                       "play_at": order.play_at}
        # The player measures on this box's clock; the server gets its own time.
        if started_at is not None:
            started = self._clock.to_server(started_at)
            fields["started_at"] = local_time(started)
            if order is not None:
                fields["start_offset_ms"] = round((started - order.play_at.timestamp()) * 1000, 1)
        if ended_at is not None:
            fields["ended_at"] = local_time(self._clock.to_server(ended_at))

        def body(seq: int) -> str:
            return AgentReport.model_validate({**fields, "seq": seq}).model_dump_json()

        self._store.outbox_add(body)
        log.info("report %s %s%s", stage.value, order.order_id if order else "-", f" ({reason})" if reason else "")
        self._wake.set()

    @property
    def failing(self) -> bool:
        """True while the server does not take reports (they wait in the outbox)."""
        return self._failing

    def server_reachable(self) -> None:
        """The server answered something else (a heartbeat): send what is queued now, not after the backoff."""
        if self._failing:
            self._reachable.set()

    async def run(self) -> None:
        """Send queued reports forever: in order, with backoff while the server is away."""
        delays: Iterator[float] | None = None
        while True:
            self._wake.clear()
            self._reachable.clear()
            if await self.flush_once():
                delays = None
                continue
            if self._store.outbox_count() == 0:
                await self._wake.wait()
                continue
            delays = delays or self._backoff.delays()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reachable.wait(), timeout=next(delays))
            if self._reachable.is_set():
                delays = None

    async def flush_once(self) -> bool:
        """Send the oldest batch; True if one was acknowledged."""
        batch = self._store.outbox_batch(self._batch_size)
        if not batch:
            return False
        body = ("[" + ",".join(text for _, text in batch) + "]").encode("utf-8")
        try:
            await self._server.post_json(REPORTS_PATH, "reports", body)
        except ServerRefused as error:
            if error.status not in _PERMANENT_REFUSALS:
                return self._failed(len(batch), error)
            log.error("server refused %d report(s) for good, dropping them: %s", len(batch), error)
        except httpx.HTTPError as error:
            return self._failed(len(batch), error)
        if self._failing:
            log.info("server reachable again; delivering queued reports")
        self._failing = False
        self._store.outbox_delete_through(batch[-1][0])
        return True

    def _failed(self, count: int, error: Exception) -> bool:
        # Once per outage at warning level: a long one would otherwise flood the log.
        log.log(logging.DEBUG if self._failing else logging.WARNING,
                "could not deliver %d report(s), will retry: %r", count, error)
        self._failing = True
        return False


async def run_heartbeats(server: ServerClient, interval_s: float, snapshot: Callable[[], Heartbeat],
                         on_delivered: Callable[[], None] | None = None) -> None:
    """Send a heartbeat now and every ``interval_s`` seconds; failures are logged, not queued."""
    failing = False
    while True:
        try:
            await server.post_json(HEARTBEAT_PATH, "heartbeat", snapshot().model_dump_json().encode("utf-8"))
            if failing:
                log.info("heartbeat delivered again")
            failing = False
            if on_delivered is not None:
                on_delivered()
        except (httpx.HTTPError, ServerRefused) as error:
            if not failing:
                log.warning("heartbeat not delivered: %r", error)
            failing = True
        await asyncio.sleep(interval_s)

