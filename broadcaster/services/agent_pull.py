"""One long-poll of a ``pull`` agent: authenticate it, hand its answers and its next order to the mailboxes.

Only the process that runs the delivery lanes holds the mailboxes. Any other replica answers
``503 delivery_not_here`` at once, and the agent retries with backoff and jitter (docs/delivery.md,
"Replicas": the load balancer sends ``/api/agent/pull`` to the lanes' node).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any

from pydantic import ValidationError

from broadcaster.db import Database
from broadcaster.delivery.pull_transport import PullTransport
from broadcaster.delivery.pull_wire import PullRequest
from broadcaster.errors import ServiceFailure
from broadcaster.services.agent_reports import AgentPayloadInvalid, authenticate
from broadcaster.services.provisioning import wire_cluster_id


class DeliveryNotHere(ServiceFailure):
    """This process does not run the delivery lanes: the agent must poll the one that does."""

    code = "delivery_not_here"


def _authenticate(db: Database, body: bytes, headers: Mapping[str, str], now: float) -> tuple[str, int]:
    with db.session() as session:
        cluster, timestamp_ms = authenticate(session, "pull", body, headers, now=now)
        return wire_cluster_id(cluster.id), timestamp_ms


async def poll(db: Database, pull: PullTransport | None, body: bytes, headers: Mapping[str, str], *, now: float,
               max_wait_s: float, gone: Awaitable[Any] | None = None) -> bytes | None:
    """The envelope to hand to the polling agent, or None when its wait ended with nothing."""
    cluster_id, timestamp_ms = await asyncio.to_thread(_authenticate, db, body, headers, now)
    if pull is None:
        raise DeliveryNotHere("Máy chủ này không gửi lệnh phát; cụm loa sẽ thử lại máy chủ khác.",
                              detail="no delivery lanes in this process")
    try:
        request = PullRequest.model_validate_json(body)
    except ValidationError as error:
        raise AgentPayloadInvalid("Yêu cầu nhận lệnh của cụm loa sai định dạng.", detail=str(error)[:500]) from None
    return await pull.exchange(cluster_id, request.answers, timestamp_ms=timestamp_ms,
                               wait_s=min(request.wait_s, max_wait_s), gone=gone)
