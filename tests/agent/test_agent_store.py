"""The agent's SQLite memory: replay protection and the report outbox survive a reopen."""

from __future__ import annotations

import json
import sqlite3
import stat
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
    # What the server's log shows for a refusal: the Vietnamese sentence, word for word.
    assert same.value.message == "Lệnh phát này đã được nhận trước đó; không thực hiện lại."
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


def test_an_equal_seq_under_a_new_id_is_a_replay_and_a_changed_copy_is_no_retry(tmp_path: Path,
                                                                                maker: OrderMaker) -> None:
    store = AgentStore(tmp_path / "agent.sqlite3")
    first = maker.order("thon-1", AUDIO, seq=5)
    store.accept(first, canonical_bytes(first.wire()).decode())
    twin = maker.order("thon-1", AUDIO, seq=5)  # another order id, the same seq
    with pytest.raises(OrderReplayed) as equal:
        store.accept(twin, canonical_bytes(twin.wire()).decode())
    with pytest.raises(OrderReplayed) as altered:
        store.accept(first, canonical_bytes(first.wire()).decode() + " ")  # same id, other bytes
    assert equal.value.duplicate is False and altered.value.duplicate is False
    assert equal.value.order == twin and "5" in (equal.value.detail or "")

    # A refusal rolls its transaction back: the next order goes in, and becomes the last seq.
    following = maker.order("thon-1", AUDIO, seq=6)
    store.accept(following, canonical_bytes(following.wire()).decode())
    assert store.last_seq() == 6 and store.state_of(following) is OrderState.RECEIVED
    assert store.state_of(twin) is None


def test_states_reasons_and_audio_in_use(tmp_path: Path, maker: OrderMaker) -> None:
    store = AgentStore(tmp_path / "agent.sqlite3")
    other = Audio("http://127.0.0.1:1/b.mp3", "ef" * 32, 1000)
    play = maker.order("thon-1", AUDIO)
    done = maker.order("thon-1", other)
    stop = maker.order("thon-1", None, kind="stop")
    for order in (play, done, stop):
        store.accept(order, canonical_bytes(order.wire()).decode())
    store.set_state(play, OrderState.DOWNLOADED, "resumed")
    store.set_state(done, OrderState.FAILED, "preempted")

    active = store.active_orders()
    assert [(s.order.order_id, s.state, s.reason) for s in active] == [
        (play.order_id, OrderState.DOWNLOADED, "resumed"), (stop.order_id, OrderState.RECEIVED, None)]
    assert store.audio_in_use() == {"cd" * 32}  # the failed order's audio is free, the stop has none
    store.set_state(play, OrderState.PLAYING)
    assert store.audio_in_use() == {"cd" * 32} and store.state_of(done) is OrderState.FAILED
    # The states are written to disk: their names are a file format.
    assert [s.value for s in OrderState] == ["received", "downloaded", "playing", "played", "failed", "missed",
                                             "applied"]


def test_prune_forgets_only_finished_orders_expired_before_the_time(tmp_path: Path, maker: OrderMaker) -> None:
    store = AgentStore(tmp_path / "agent.sqlite3")
    finished, active = maker.order("thon-1", AUDIO), maker.order("thon-1", AUDIO)
    for order in (finished, active):
        store.accept(order, canonical_bytes(order.wire()).decode())
    store.set_state(finished, OrderState.MISSED)

    assert store.prune(older_than=finished.expires_at.timestamp()) == 0  # not before its own expiry
    assert store.prune(older_than=active.expires_at.timestamp() + 1) == 1
    assert store.state_of(finished) is None and store.state_of(active) is OrderState.RECEIVED


def test_meta_values_and_the_health_probe_persist(tmp_path: Path) -> None:
    store = AgentStore(tmp_path / "agent.sqlite3")
    assert store.meta("clock_offset") is None and store.last_seq() == 0
    store.set_meta("clock_offset", "1.5")
    store.set_meta("clock_offset", "-2.25")
    store.probe_write()
    store.close()

    store = AgentStore(tmp_path / "agent.sqlite3")
    assert store.meta("clock_offset") == "-2.25" and store.meta("health_probe") is not None


def test_the_store_is_durable_and_waits_for_a_lock(tmp_path: Path) -> None:
    store = AgentStore(tmp_path / "agent.sqlite3")
    db = store._db  # noqa: SLF001 - the connection's settings are the promise under test
    # WAL, fsync at every commit (an accepted order survives a power cut), and a wait on a held lock.
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_outbox_delete_through_keeps_later_reports(tmp_path: Path) -> None:
    store = AgentStore(tmp_path / "agent.sqlite3")
    seqs = [store.outbox_add(partial(_body, stage=stage)) for stage in ("received", "playing", "played")]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    store.outbox_delete_through(seqs[1])
    assert [seq for seq, _ in store.outbox_batch(10)] == [seqs[2]] and store.outbox_count() == 1
    assert len(store.outbox_batch(0)) == 0


def test_the_store_files_are_private_and_close_releases_the_database(tmp_path: Path, maker: OrderMaker) -> None:
    folder = tmp_path / "agent"
    store = AgentStore(folder / "agent.sqlite3")
    order = maker.order("thon-1", AUDIO, seq=1)
    store.accept(order, canonical_bytes(order.wire()).decode())  # a write: the WAL file exists now
    # Signed orders and the cluster's reports: readable by the agent's user only, WAL included.
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("agent.sqlite3", "agent.sqlite3-wal"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.last_seq()  # closed, not left open behind the agent's back
