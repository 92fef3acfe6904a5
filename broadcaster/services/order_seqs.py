"""Per-cluster order sequence numbers, taken in the database so that every process agrees.

The agent refuses an order whose seq is not above the last it accepted; the counter lives in
``Cluster.order_seq`` and only ever moves up (a heartbeat may move it up too, within bounds:
``services.agent_reports``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from broadcaster.models import Cluster


def reserve_seqs(session: Session, cluster_ids: Sequence[int]) -> dict[int, int]:
    """One fresh seq for each of these clusters, in one statement (clusters named twice get one)."""
    if not cluster_ids:
        return {}
    rows = session.execute(
        update(Cluster).where(Cluster.id.in_(set(cluster_ids))).values(order_seq=Cluster.order_seq + 1)
        .returning(Cluster.id, Cluster.order_seq).execution_options(synchronize_session=False)
    ).all()
    return {int(cluster_id): int(seq) for cluster_id, seq in rows}


def next_seq(session: Session, cluster_id: int) -> int:
    """The cluster's next order seq, taken atomically in the database (the row stays locked until commit)."""
    return int(session.execute(
        update(Cluster).where(Cluster.id == cluster_id).values(order_seq=Cluster.order_seq + 1)
        .returning(Cluster.order_seq).execution_options(synchronize_session=False)
    ).scalar_one())
