"""The agent's memory: one SQLite file (WAL) with the orders, the last accepted seq and the report outbox.

Every order is written before POST /orders answers 202 (``synchronous=FULL``), so an order the
server saw accepted survives a power cut. Used from the event-loop thread only: each call is a
small local transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from broadcaster.delivery.orders import OrderKind, OrderReplayed, PlayOrder
from broadcaster.private_files import private_sqlite

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id     TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    airing_id    TEXT NOT NULL,
    audio_sha256 TEXT,
    play_at      REAL NOT NULL,
    expires_at   REAL NOT NULL,
    order_json   TEXT NOT NULL,   -- the signed order object as received
    state        TEXT NOT NULL,
    reason       TEXT,
    received_at  REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_state ON orders (state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
"""


class OrderState(StrEnum):
    """Where an order stands on this cluster."""

    RECEIVED = "received"
    DOWNLOADED = "downloaded"
    PLAYING = "playing"
    PLAYED = "played"
    FAILED = "failed"
    MISSED = "missed"
    APPLIED = "applied"


ACTIVE_STATES = (OrderState.RECEIVED, OrderState.DOWNLOADED, OrderState.PLAYING)


@dataclass(frozen=True)
class StoredOrder:
    """An order with its local state."""

    order: PlayOrder
    state: OrderState
    reason: str | None


class AgentStore:
    """SQLite persistence of one agent (one cluster)."""

    def __init__(self, path: Path) -> None:
        private_sqlite(path)  # the agent's orders: 0600 in a 0700 folder, and so its WAL and SHM
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- orders ------------------------------------------------------------------------------

    def last_seq(self) -> int:
        """The highest seq ever accepted (0 before the first order)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        return int(row[0]) if row else 0

    def meta(self, key: str) -> str | None:
        """A remembered value (the clock offset of the last run...), None if never set."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Remember a value across restarts."""
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (key, value))

    def accept(self, order: PlayOrder, order_json: str) -> None:
        """Store a verified order, or raise ``OrderReplayed`` if it was seen or is older than the last."""
        now = time.time()
        with self._transaction() as db:
            seen = db.execute("SELECT order_json FROM orders WHERE order_id = ?", (str(order.order_id),)).fetchone()
            if seen is not None:
                error = OrderReplayed(
                    "Lệnh phát này đã được nhận trước đó; không thực hiện lại.", order=order,
                    detail=f"order {order.order_id} seen before",
                )
                # The same signed order again is the server retrying after a lost answer (or a
                # harmless replay); it changes nothing, so it is not reported as a refusal.
                error.duplicate = seen[0] == order_json
                raise error
            last = self.last_seq()
            if order.seq <= last:
                raise OrderReplayed(
                    f"Lệnh phát cũ hơn lệnh đã nhận gần nhất (số thứ tự {order.seq} ≤ {last}): có thể bị phát lại.",
                    order=order, detail=f"seq {order.seq} <= last accepted {last}",
                )
            db.execute(
                "INSERT INTO orders (order_id, seq, kind, airing_id, audio_sha256, play_at, expires_at,"
                " order_json, state, received_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(order.order_id), order.seq, order.kind.value, order.airing_id, order.audio_sha256,
                    order.play_at.timestamp(), order.expires_at.timestamp(), order_json,
                    OrderState.RECEIVED.value, now, now,
                ),
            )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('last_seq', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(order.seq),),
            )

    def set_state(self, order: PlayOrder, state: OrderState, reason: str | None = None) -> None:
        """Record where an order stands."""
        self._db.execute(
            "UPDATE orders SET state = ?, reason = ?, updated_at = ? WHERE order_id = ?",
            (state.value, reason, time.time(), str(order.order_id)),
        )

    def active_orders(self) -> list[StoredOrder]:
        """Orders not finished yet, oldest seq first (what a restart resumes)."""
        marks = ",".join("?" * len(ACTIVE_STATES))
        rows = self._db.execute(
            f"SELECT order_json, state, reason FROM orders WHERE state IN ({marks}) ORDER BY seq",
            [s.value for s in ACTIVE_STATES],
        ).fetchall()
        return [StoredOrder(PlayOrder.model_validate_json(r[0]), OrderState(r[1]), r[2]) for r in rows]

    def state_of(self, order: PlayOrder) -> OrderState | None:
        """The state of one order, None if unknown."""
        row = self._db.execute("SELECT state FROM orders WHERE order_id = ?", (str(order.order_id),)).fetchone()
        return OrderState(row[0]) if row else None

    def audio_in_use(self) -> set[str]:
        """sha256 of audio that active play orders still need."""
        marks = ",".join("?" * len(ACTIVE_STATES))
        rows = self._db.execute(
            f"SELECT DISTINCT audio_sha256 FROM orders WHERE kind = ? AND state IN ({marks})",
            [OrderKind.PLAY.value, *(s.value for s in ACTIVE_STATES)],
        ).fetchall()
        return {r[0] for r in rows if r[0]}

    def prune(self, older_than: float) -> int:
        """Forget finished orders that expired before ``older_than`` (seq still guards replays)."""
        marks = ",".join("?" * len(ACTIVE_STATES))
        cursor = self._db.execute(
            f"DELETE FROM orders WHERE expires_at < ? AND state NOT IN ({marks})",
            [older_than, *(s.value for s in ACTIVE_STATES)],
        )
        return cursor.rowcount

    def probe_write(self) -> None:
        """Commit a tiny write (the health check): raises what a real write would (disk full, locked)."""
        with self._transaction() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('health_probe', ?)"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(time.time()),))

    # --- report outbox -----------------------------------------------------------------------

    def outbox_add(self, make_body: Callable[[int], str]) -> int:
        """Queue one report whose JSON ``make_body(seq)`` builds from its outbox seq; returns the seq."""
        with self._transaction() as db:
            cursor = db.execute("INSERT INTO outbox (body) VALUES ('')")
            seq = cursor.lastrowid
            assert seq is not None
            db.execute("UPDATE outbox SET body = ? WHERE id = ?", (make_body(seq), seq))
        return seq

    def outbox_batch(self, limit: int) -> list[tuple[int, str]]:
        """The oldest queued reports, in order."""
        return self._db.execute("SELECT id, body FROM outbox ORDER BY id LIMIT ?", (limit,)).fetchall()

    def outbox_delete_through(self, last_id: int) -> None:
        """Drop reports the server acknowledged."""
        self._db.execute("DELETE FROM outbox WHERE id <= ?", (last_id,))

    def outbox_count(self) -> int:
        """How many reports wait for the server."""
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
