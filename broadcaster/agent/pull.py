"""The ``pull`` transport, agent side: one outbound connection, long-polling the server for orders.

The loop posts its verdicts on the previous envelope and waits (``pull_wait_s``) for the next
one; an envelope goes through the same ``Intake`` as a pushed order, byte for byte, and the
verdict travels in the next poll, sent at once. A failed poll (server restarting, link down, a
replica that does not deliver) is retried with exponential backoff and jitter, so a thousand
boxes coming back after an outage do not all call in the same second; verdicts not yet
delivered are kept and sent with the next poll that goes through.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from uuid import UUID

import httpx

from broadcaster.agent.intake import Intake
from broadcaster.agent.reporting import ServerClient
from broadcaster.agent.retry import Backoff
from broadcaster.delivery.orders import MAX_SEQ, OrderExpired, OrderRejected, OrderReplayed
from broadcaster.delivery.pull_wire import MAX_ANSWERS, PULL_PATH, PullAnswer, PullRequest

log = logging.getLogger(__name__)
# The server holds a poll up to wait_s; give the answer this much more before calling it lost.
READ_MARGIN_S = 15.0


def verdict(intake: Intake, envelope: bytes) -> PullAnswer:
    """Pass one envelope through the intake; the answer the server's lane waits for."""
    order_id, seq = _identity(envelope)
    try:
        order = intake.accept(envelope)
    except OrderReplayed as error:
        outcome = "duplicate" if error.duplicate else "replayed"
        return PullAnswer(order_id=order_id, seq=seq, outcome=outcome, code=error.code, message=error.message)
    except OrderExpired as error:
        return PullAnswer(order_id=order_id, seq=seq, outcome="expired", code=error.code, message=error.message)
    except OrderRejected as error:
        return PullAnswer(order_id=order_id, seq=seq, outcome="refused", code=error.code, message=error.message)
    return PullAnswer(order_id=order.order_id, seq=order.seq, outcome="accepted")


class PullLoop:
    """Keeps the long-poll going for as long as the agent runs."""

    def __init__(self, server: ServerClient, intake: Intake, backoff: Backoff, wait_s: float) -> None:
        self._server = server
        self._intake = intake
        self._backoff = backoff
        self._wait_s = wait_s
        self._answers: list[PullAnswer] = []
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Poll forever."""
        delays: Iterator[float] | None = None
        failing = False
        while True:
            try:
                envelope = await self.poll_once()
            except (httpx.HTTPError, _PollRefused) as error:
                self.connected.clear()
                if not failing:
                    log.warning("order connection to the server lost: %r; reconnecting with backoff", error)
                failing = True
                delays = delays or self._backoff.delays()
                await asyncio.sleep(next(delays))
                continue
            if failing:
                log.info("order connection to the server is back")
            failing, delays = False, None
            self.connected.set()
            if envelope is not None:
                self._answers.append(verdict(self._intake, envelope))
                del self._answers[:-MAX_ANSWERS]

    async def poll_once(self) -> bytes | None:
        """One poll: the envelope the server handed over, or None when it had nothing."""
        body = PullRequest(answers=self._answers, wait_s=self._wait_s).model_dump_json().encode("utf-8")
        response = await self._server.post(PULL_PATH, "pull", body, timeout=self._wait_s + READ_MARGIN_S)
        if response.status_code not in (200, 204):
            raise _PollRefused(f"HTTP {response.status_code} {response.text[:200]}")
        self._answers = []  # the server has them
        return response.content if response.status_code == 200 and response.content else None


class _PollRefused(Exception):
    """The server answered the poll with something other than an order or nothing."""


def _identity(envelope: bytes) -> tuple[UUID | None, int | None]:
    # Unverified, only to label the verdict: the server matches it against what it handed over.
    try:
        order = json.loads(envelope)["order"]
        seq = int(order["seq"])
        return UUID(str(order["order_id"])), seq if 0 <= seq <= MAX_SEQ else None
    except (ValueError, KeyError, TypeError, RecursionError):
        return None, None
