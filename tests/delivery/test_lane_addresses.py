"""A lane keeps its cluster's address between retries, and reads it again when it may have changed.

Real parts: the ``DeliveryService`` with its lanes on a real database (SQLite and PostgreSQL), the
real ``http`` transport, and agents that are HTTP endpoints on 127.0.0.1 answering one fixed status
(503: try again; 202: stored). The address reads are counted as the database sees them: the
statements that fetch one cluster by id.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from broadcaster.clock import LOCAL_ZONE
from broadcaster.db import Database
from broadcaster.models import Cluster, DeliveryOrder
from broadcaster.services.delivery import DeliveryService
from broadcaster.services.delivery_lanes import ADDRESS_REFRESH_FAILURES
from broadcaster.services.provisioning import wire_cluster_id
from broadcaster.speech import RenderedAudio
from tests.agent.harness import free_port, wait_for
from tests.e2e.harness import add_airing, delivery_settings, programme, seed_commune

ONE_CLUSTER = re.compile(r"FROM clusters\s+WHERE clusters\.id = ", re.IGNORECASE)
AUDIO = RenderedAudio(path=Path("programme.mp3"), sha256="a" * 64, size=48_000, duration_s=3.0, engine="programme",
                      voice="", cache_hit=True, integrated_lufs=-16.0, true_peak_dbtp=-1.5, fmt="mp3")


class Agent:
    """``POST /orders`` answered with ``status``; counts what it received."""

    def __init__(self, status: int) -> None:
        self.posts = 0
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                agent.posts += 1
                body = b'{"status": "accepted"}' if status == 202 else b'{"code": "busy"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()


class World:
    """One http cluster pointed at a busy agent; a stored one to move it to; the service, started."""

    def __init__(self, root: Path, **settings: Any) -> None:
        self.busy, self.stores = Agent(503), Agent(202)
        self.settings = delivery_settings(root, free_port(), **settings)
        self.db = Database(self.settings.effective_database_url)
        self.db.upgrade()
        seed = seed_commune(self.db, 1)
        self.commune_id, self.cluster_id = seed.commune_id, seed.clusters[0].id
        self.point_at(self.busy)
        self.address_reads = 0
        event.listen(self.db.engine, "before_cursor_execute", self._count)
        self.service = DeliveryService(self.settings, self.db, None)
        self.service.start()

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if ONE_CLUSTER.search(statement):
            self.address_reads += 1

    def point_at(self, agent: Agent) -> None:
        """What an admin does: the cluster's agent address changed in the registry."""
        with self.db.session() as s:
            s.execute(update(Cluster).where(Cluster.id == self.cluster_id).values(agent_url=agent.url))

    def hand_off(self) -> str:
        """An order for the cluster, valid for an hour; its id."""
        airing = add_airing(self.db, self.commune_id, datetime.now(LOCAL_ZONE))
        self.service.hand_off(programme(airing, self.cluster_id, AUDIO, play_in=3600, expires_in=3600))
        with self.db.session() as s:
            return s.query(DeliveryOrder.order_id).filter_by(airing_id=airing).one()[0]

    def status(self, order_id: str) -> str:
        """The stored order's status."""
        with self.db.session() as s:
            return str(s.query(DeliveryOrder.status).filter_by(order_id=order_id).one()[0].value)

    def close(self) -> None:
        """Everything down."""
        self.service.close()
        self.busy.close()
        self.stores.close()
        self.db.dispose()


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[type[World] | Any]:
    """``make_world(**settings)``: a started ``World``; closed after the test."""
    made: list[World] = []

    def build(**settings: Any) -> World:
        made.append(World(tmp_path / f"world-{len(made)}", **settings))
        return made[-1]

    yield build
    for world in made:
        world.close()


def test_retries_read_the_address_once_per_few_failures_and_find_a_fixed_one(make_world: Any) -> None:
    world = make_world(delivery_retry_initial_s=0.01, delivery_retry_max_s=0.02)
    order_id = world.hand_off()
    wait_for(lambda: world.busy.posts >= 1, 30, "the first send")
    reads_before, posts_before = world.address_reads, world.busy.posts
    rounds = 3 * ADDRESS_REFRESH_FAILURES
    wait_for(lambda: world.busy.posts >= posts_before + rounds, 60, f"{rounds} more failed sends")
    reads, posts = world.address_reads - reads_before, world.busy.posts - posts_before
    # Before: one read before every retry (as many reads as sends); now one per few failures.
    assert reads <= posts // ADDRESS_REFRESH_FAILURES + 2, (reads, posts)
    # An admin fixes the address: the lane finds it within a few failures, without any wake-up.
    world.point_at(world.stores)
    wait_for(lambda: world.stores.posts >= 1, 60, "the order sent to the fixed address")
    wait_for(lambda: world.status(order_id) == "accepted", 30, "the order accepted")


def test_an_agent_back_online_is_sent_to_at_its_new_address_at_once(make_world: Any) -> None:
    # Retries far apart: only the wake-up can bring the order to the new address within the test.
    world = make_world(delivery_retry_initial_s=300.0, delivery_retry_max_s=300.0)
    order_id = world.hand_off()
    wait_for(lambda: world.busy.posts >= 1, 30, "the first send")
    world.point_at(world.stores)
    world.service.link_changed(wire_cluster_id(world.cluster_id), True)  # presence: the box is back
    wait_for(lambda: world.stores.posts >= 1, 30, "the order sent to the new address")
    wait_for(lambda: world.status(order_id) == "accepted", 30, "the order accepted")
    assert world.busy.posts == 1
