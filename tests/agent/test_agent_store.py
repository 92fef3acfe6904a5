"""The agent's SQLite memory: replay protection and the report outbox survive a reopen."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from broadcaster.agent.store import AgentStore, OrderState
from broadcaster.delivery.orders import OrderReplayed, canonical_bytes
from tests.agent.harness import Audio, OrderMaker

AUDIO = Audio("http://127.0.0.1:1/a.mp3", "cd" * 32, 1000)


def test_seen_orders_and_last_seq_are_remembered_across_reopen(tmp_path: Path, maker: OrderMaker) -> None:
    store = AgentStore(tmp_path / "agent.sqlite3")
    first = maker.order("thon-1", AUDIO, seq=5)
    store.accept(first, canonical_bytes(first.wire()).decode())
    store.close()

    store = AgentStore(tmp_path / "agent.sqlite3")
    assert store.last_seq() == 5
    with pytest.raises(OrderReplayed) as same:
        store.accept(first, canonical_bytes(first.wire()).decode())
    older = maker.order("thon-1", AUDIO, seq=4)
    with pytest.raises(OrderReplayed) as stale:
        store.accept(older, canonical_bytes(older.wire()).decode())
    assert same.value.duplicate is True and stale.value.duplicate is False
    assert [s.order.order_id for s in store.active_orders()] == [first.order_id]


def test_finished_orders_leave_the_active_list_but_keep_guarding_seq(tmp_path: Path, maker: OrderMaker) -> None:
    store = AgentStore(tmp_path / "agent.sqlite3")
    order = maker.order("thon-1", AUDIO, seq=3)
    store.accept(order, canonical_bytes(order.wire()).decode())
    store.set_state(order, OrderState.PLAYED)

    assert store.active_orders() == [] and store.audio_in_use() == set()
    assert store.prune(older_than=order.expires_at.timestamp() + 1) == 1
    with pytest.raises(OrderReplayed):
        store.accept(order, canonical_bytes(order.wire()).decode())  # forgotten id, but its seq is not above 3


def _body(seq: int, *, stage: str) -> str:
    return json.dumps({"seq": seq, "stage": stage})


def test_outbox_keeps_order_and_numbers_reports(tmp_path: Path) -> None:
    store = AgentStore(tmp_path / "agent.sqlite3")
    for stage in ("received", "downloaded", "played"):
        store.outbox_add(partial(_body, stage=stage))
    store.close()

    store = AgentStore(tmp_path / "agent.sqlite3")
    batch = store.outbox_batch(2)
    assert [json.loads(body)["stage"] for _, body in batch] == ["received", "downloaded"]
    assert [json.loads(body)["seq"] for _, body in batch] == [seq for seq, _ in batch]
    store.outbox_delete_through(batch[-1][0])
    assert [json.loads(body)["stage"] for _, body in store.outbox_batch(10)] == ["played"]
    assert store.outbox_count() == 1
