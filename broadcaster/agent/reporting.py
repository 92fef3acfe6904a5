"""What the agent tells the server: reports (through a persistent outbox) and heartbeats.

Every report is first written to the SQLite outbox, then sent in batches, oldest first, to
``POST {server}/api/agent/reports`` (a JSON list of ``AgentReport``). Nothing newer is sent
before everything older was acknowledged (2xx), so the server sees each cluster's reports in
order; while it is unreachable they wait on disk and are retried with backoff, and playing goes
on. A heartbeat that gets through cuts the backoff short: the server is back, so the queued
reports go at once rather than after a wait of up to ``retry_max_s``. Heartbeats (``POST {server}/api/agent/heartbeat``) are not queued: only the latest matters.
Both are signed with the cluster's HMAC secret (see ``broadcaster.delivery.keys``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx

from broadcaster.agent.retry import Backoff
from broadcaster.agent.store import AgentStore
from broadcaster.delivery.keys import sign_agent_request
from broadcaster.delivery.orders import LOCAL_ZONE, AgentReport, Heartbeat, PlayOrder, ReportStage

log = logging.getLogger(__name__)
REPORTS_PATH = "/api/agent/reports"
HEARTBEAT_PATH = "/api/agent/heartbeat"


class ServerRefused(Exception):
    """The server answered, but not with 2xx."""


def local_time(unix: float) -> datetime:
    """A Unix time as an aware datetime in the project's zone."""
    return datetime.fromtimestamp(unix, LOCAL_ZONE)


class ServerClient:
    """HMAC-signed POSTs to the server's agent endpoints."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, cluster_id: str, secret: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._cluster_id = cluster_id
        self._secret = secret

    async def post_json(self, path: str, body: bytes) -> None:
        """POST an already-encoded JSON body; raises ``httpx.HTTPError`` or ``ServerRefused``."""
        headers = sign_agent_request(self._secret, self._cluster_id, body, timestamp=int(time.time()))
        headers["Content-Type"] = "application/json"
        response = await self._http.post(self._base_url + path, content=body, headers=headers)
        if not response.is_success:
            raise ServerRefused(f"{path}: HTTP {response.status_code} {response.text[:200]}")


class Reporter:
    """Queues reports durably and delivers them in order."""

    def __init__(self, store: AgentStore, server: ServerClient, cluster_id: str, backoff: Backoff,
                 batch_size: int = 50) -> None:
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
            "at": local_time(time.time()), "reason": reason, "message": message,
        }
        if order is not None:
            fields |= {"order_id": order.order_id, "order_seq": order.seq, "airing_id": order.airing_id,
                       "play_at": order.play_at}
        if started_at is not None:
            fields["started_at"] = local_time(started_at)
            if order is not None:
                fields["start_offset_ms"] = round((started_at - order.play_at.timestamp()) * 1000, 1)
        if ended_at is not None:
            fields["ended_at"] = local_time(ended_at)

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
            await self._server.post_json(REPORTS_PATH, body)
        except (httpx.HTTPError, ServerRefused) as error:
            # Once per outage at warning level: a long one would otherwise flood the log.
            log.log(logging.DEBUG if self._failing else logging.WARNING,
                    "could not deliver %d report(s), will retry: %r", len(batch), error)
            self._failing = True
            return False
        if self._failing:
            log.info("server reachable again; delivering queued reports")
        self._failing = False
        self._store.outbox_delete_through(batch[-1][0])
        return True


async def run_heartbeats(server: ServerClient, interval_s: float, snapshot: Callable[[], Heartbeat],
                         on_delivered: Callable[[], None] | None = None) -> None:
    """Send a heartbeat now and every ``interval_s`` seconds; failures are logged, not queued."""
    failing = False
    while True:
        try:
            await server.post_json(HEARTBEAT_PATH, snapshot().model_dump_json().encode("utf-8"))
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

