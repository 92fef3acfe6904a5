"""The ``pull`` transport on the wire: what an agent's long-poll carries, shared by server and agent.

The agent keeps one outbound HTTP/1.1 connection and sends, one after the other::

    POST {server_url}/api/agent/pull        signed like every agent request (purpose "pull")
    {"answers": [{"order_id", "seq", "outcome", "code", "message"}], "wait_s": 25}

``answers`` are the agent's verdicts on the envelopes of its previous polls (accepted, duplicate,
replayed, expired, refused), until one poll carrying them succeeded. The server answers
``200`` with one signed envelope as the body, byte for byte as stored in its outbox, or ``204``
when ``wait_s`` passed with nothing to hand over; ``503 delivery_not_here`` from a replica that
does not run the delivery lanes (docs/delivery.md, "Replicas"). Every answer carries the server's
clock (``X-Broadcaster-Time-Received`` / ``-Sent``, Unix seconds) for the agent's offset estimate.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from broadcaster.delivery.orders import MAX_SEQ, ReasonCode, Text

PULL_PATH = "/api/agent/pull"
TIME_RECEIVED_HEADER = "X-Broadcaster-Time-Received"
TIME_SENT_HEADER = "X-Broadcaster-Time-Sent"
MAX_ANSWERS = 16
MAX_WAIT_S = 300.0

Outcome = Literal["accepted", "duplicate", "replayed", "expired", "refused"]


class PullAnswer(BaseModel):
    """The agent's verdict on one envelope; ``order_id`` is None when the envelope did not even parse."""

    model_config = ConfigDict(extra="forbid")

    order_id: UUID | None = None
    seq: int | None = Field(default=None, ge=0, le=MAX_SEQ)
    outcome: Outcome
    code: ReasonCode | None = None
    message: Text | None = None


class PullRequest(BaseModel):
    """One long-poll: the answers so far, and how long the agent is willing to wait for an order."""

    model_config = ConfigDict(extra="forbid")

    answers: list[PullAnswer] = Field(default_factory=list, max_length=MAX_ANSWERS)
    wait_s: float = Field(default=25.0, ge=0, le=MAX_WAIT_S, allow_inf_nan=False)
