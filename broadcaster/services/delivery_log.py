"""How a Delivery row — one airing at one cluster, the unit of the broadcast log — changes state.

    pending ─▶ sent ─▶ received ─▶ downloaded ─▶ played
       └─────────┴─────────┴────────────┴──────▶ failed | missed | cancelled

``sent``: the transport handed the signed order over (the agent answered 202, or already held
it). ``received`` / ``downloaded`` / ``played`` / ``failed`` / ``missed`` come from the agent's
reports; ``failed`` and ``missed`` also from the server itself (the agent refused the order, or
could not be reached before the order expired). Facts arrive from both sides out of order, so:

- a state never moves backwards (a late "sent" does not undo "received");
- the agent's final word replaces the server's guess (the server says "missed: unreachable",
  but the order had arrived and only the answer was lost; the agent then reports "played");
- "played" is final.

Two writers race on a row (the lanes recording what the transport saw, the API recording a
report), so a move is one conditional UPDATE (``... WHERE state IN (states it may come from)``):
whoever commits second cannot undo the first by writing from a stale read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from broadcaster.models import Delivery, DeliveryState
from broadcaster.services.audit import record

_RANK = {
    DeliveryState.PENDING: 0,
    DeliveryState.SENT: 1,
    DeliveryState.RECEIVED: 2,
    DeliveryState.DOWNLOADED: 3,
    DeliveryState.PLAYED: 4,
    DeliveryState.FAILED: 4,
    DeliveryState.MISSED: 4,
    DeliveryState.CANCELLED: 4,
}
FINAL_STATES = frozenset(state for state, rank in _RANK.items() if rank == 4)


def sources(state: DeliveryState, *, from_agent: bool) -> frozenset[DeliveryState]:
    """The states a delivery may move to ``state`` from."""
    if state in FINAL_STATES and from_agent:
        return frozenset(_RANK) - {DeliveryState.PLAYED}
    return frozenset(s for s, rank in _RANK.items() if rank < _RANK[state])


def advance(session: Session, delivery: Delivery, state: DeliveryState, *, from_agent: bool,
            error: str | None = None) -> bool:
    """Move ``delivery`` to ``state`` if the rules above allow it (checked in the database); whether it moved."""
    allowed = sources(state, from_agent=from_agent)
    values: dict[str, Any] = {"state": state}
    if state in FINAL_STATES:
        values["error"] = error
    if delivery.id is None:  # not written yet: nobody else can have changed it
        if delivery.state not in allowed:
            return False
        for name, value in values.items():
            setattr(delivery, name, value)
        return True
    moved = session.execute(
        update(Delivery).where(Delivery.id == delivery.id, Delivery.state.in_(allowed)).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount == 1  # type: ignore[attr-defined]
    if moved:
        for name, value in values.items():
            set_committed_value(delivery, name, value)  # in step with the row, without writing it again
    return bool(moved)


def failure_text(code: str | None, message: str | None) -> str:
    """The broadcast log's reason: the stable code, then the Vietnamese explanation."""
    if code and message:
        return f"[{code}] {message}"
    return message or (f"[{code}]" if code else "lỗi không rõ")


def audit_delivery(session: Session, delivery: Delivery | None, *, action: str, commune_id: int | None,
                   details: dict[str, Any]) -> None:
    """An audit event about a delivery (failures, refusals): written with the change, by the system."""
    record(session, actor=None, action=action, object_type="delivery",
           object_id=delivery.id if delivery is not None else None, commune_id=commune_id, details=details)
