"""Agents that answer orders as the test scripts them, over real HTTP on 127.0.0.1, for the delivery tests.

The ``http`` transport classifies what an agent answers (202 stored, 409 duplicate or replayed, 410
expired, 4xx refused for good, anything else: try again). The real agent gives each answer only in
its own situation; these endpoints give the answer a test needs, and record every envelope byte for
byte, so a test can watch a lane's order of sending, its retries and its re-signs. One server
serves every cluster under ``/<cluster id>/orders``; a test points a cluster there with ``url_of``.
A ``DeliveryWorld`` puts them together with a real database, audio cache and delivery service.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from broadcaster.cache import AudioCache
from broadcaster.clock import LOCAL_ZONE, Clock
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.models import AuditEvent, Cluster, Delivery, DeliveryOrder, Priority
from broadcaster.services.delivery import DeliveryService
from broadcaster.services.handoff import ClusterProgramme
from broadcaster.speech import RenderedAudio
from tests.agent.harness import free_port, wait_for
from tests.e2e.harness import Seed, add_airing, delivery_settings, seed_commune

Answer = tuple[int, dict[str, Any]]
LONG_BACKOFF = {"delivery_retry_initial_s": 300.0, "delivery_retry_max_s": 300.0}  # never over within a test
STORED: Answer = (202, {"status": "accepted"})
BUSY: Answer = (503, {"code": "busy"})
DUPLICATE: Answer = (409, {"code": "order_replayed", "duplicate": True, "message": "Đã có lệnh này."})
REPLAYED: Answer = (409, {"code": "order_replayed", "duplicate": False, "message": "Số thứ tự cũ."})
EXPIRED: Answer = (410, {"code": "order_expired", "message": "Lệnh đã hết hạn."})
BAD_SIGNATURE: Answer = (401, {"code": "order_bad_signature", "message": "Chữ ký không hợp lệ."})


@dataclass(frozen=True)
class Received:
    """One envelope as it arrived."""

    cluster: str
    path: str
    body: bytes

    @property
    def order(self) -> dict[str, Any]:
        """The signed order inside."""
        return json.loads(self.body)["order"]  # type: ignore[no-any-return]


@dataclass
class ScriptedAgents:
    """Answers ``POST /<cluster>/orders`` with ``script[cluster](order, n)`` (n: that cluster's nth envelope)."""

    script: dict[str, Callable[[dict[str, Any], int], Answer]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> ScriptedAgents:
        """Serve on a free loopback port in a thread."""
        agents = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                parts = self.path.strip("/").split("/")
                status, answer = 404, {"code": "not_found"}
                if len(parts) == 2 and parts[1] == "orders":
                    status, answer = agents._answer(Received(parts[0], self.path, body))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url_of(self, name: str) -> str:
        """The agent URL under which cluster ``name`` is answered."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}"

    def _answer(self, received: Received) -> Answer:
        with self._lock:
            self.received.append(received)
            count = sum(1 for r in self.received if r.cluster == received.cluster)
            answer = self.script.get(received.cluster, lambda _order, _n: STORED)
        return answer(received.order, count)

    def of(self, cluster: int | str) -> list[Received]:
        """What cluster ``cluster`` received, in order."""
        with self._lock:
            return [r for r in self.received if r.cluster == str(cluster)]


def always(answer: Answer) -> Callable[[dict[str, Any], int], Answer]:
    """The same answer to every envelope."""
    return lambda _order, _n: answer


def after(busy: int, answer: Answer) -> Callable[[dict[str, Any], int], Answer]:
    """503 for the first ``busy`` envelopes, then ``answer``."""
    return lambda _order, n: BUSY if n <= busy else answer


def audio_in(cache_dir: Path, tag: str) -> RenderedAudio:
    """A cache entry's description (the lanes never read the file; its stem is a valid cache key)."""
    sha = (tag.encode().hex() * 64)[:64]
    return RenderedAudio(path=cache_dir / f"{sha}.mp3", sha256=sha, size=4000, duration_s=12.0, engine="programme",
                         voice="vi-north", cache_hit=False, integrated_lufs=-16.0, true_peak_dbtp=-1.5, fmt="mp3")


@dataclass
class DeliveryWorld:
    """A commune whose clusters are answered by ``agents``, a real database and cache, delivery services."""

    settings: Settings
    db: Database
    seed: Seed
    agents: ScriptedAgents
    cache: AudioCache
    services: list[DeliveryService] = field(default_factory=list)
    _airings: int = 0

    @property
    def clusters(self) -> list[int]:
        """The cluster ids, in creation order."""
        return [cluster.id for cluster in self.seed.clusters]

    def service(self, clock: Clock | None = None, *, start: bool = True) -> DeliveryService:
        """A delivery service (one server process), started unless told otherwise; closed at the end."""
        service = DeliveryService(self.settings, self.db, self.cache, clock=clock)
        self.services.append(service)
        if start:
            service.start()
        return service

    def close(self) -> None:
        """Close every service."""
        for service in self.services:
            service.close()

    def airing(self) -> int:
        """A new airing of the commune (each a minute apart: session names stay distinct)."""
        self._airings += 1
        return add_airing(self.db, self.seed.commune_id,
                          datetime.now(LOCAL_ZONE).replace(microsecond=0) + timedelta(minutes=self._airings))

    def programme(self, airing_id: int, cluster_id: int, *, tag: str = "a", priority: Priority = Priority.NORMAL,
                  play_in: float = 600.0, expires_in: float = 600.0) -> ClusterProgramme:
        """A programme for one cluster, playing ``play_in`` seconds from now (far: nothing plays in a test)."""
        play_at = (datetime.now(LOCAL_ZONE) + timedelta(seconds=play_in)).replace(microsecond=0)
        return ClusterProgramme(airing_id, cluster_id, audio_in(self.settings.cache_dir, tag), play_at,
                                play_at + timedelta(seconds=expires_in), priority)

    def point(self, cluster_id: int, url: str, transport: str = "http") -> None:
        """Set the cluster's address (what an admin does in the registry)."""
        with self.db.session() as s:
            s.execute(update(Cluster).where(Cluster.id == cluster_id).values(agent_url=url, transport=transport))

    def cluster(self, cluster_id: int) -> Cluster:
        """The cluster as stored."""
        with self.db.session() as s:
            return s.get_one(Cluster, cluster_id)

    def orders(self, airing_id: int | None = None, cluster_id: int | None = None) -> list[DeliveryOrder]:
        """Stored orders, by seq."""
        query = select(DeliveryOrder).order_by(DeliveryOrder.seq)
        if airing_id is not None:
            query = query.where(DeliveryOrder.airing_id == airing_id)
        if cluster_id is not None:
            query = query.where(DeliveryOrder.cluster_id == cluster_id)
        with self.db.session() as s:
            return list(s.scalars(query))

    def order(self, airing_id: int, cluster_id: int) -> DeliveryOrder:
        """The one order of an airing at a cluster."""
        [row] = self.orders(airing_id, cluster_id)
        return row

    def delivery(self, airing_id: int, cluster_id: int) -> Delivery:
        """The delivery row of an airing at a cluster."""
        with self.db.session() as s:
            row = s.scalar(select(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id == cluster_id))
        assert row is not None
        return row

    def wait_status(self, airing_id: int, cluster_id: int, status: str, timeout: float = 60.0) -> DeliveryOrder:
        """Wait until the airing's (only) order at the cluster has this status."""
        def reached() -> DeliveryOrder | None:
            rows = [row for row in self.orders(airing_id, cluster_id) if row.kind == "play"]
            return rows[-1] if rows and str(rows[-1].status) == status else None

        return wait_for(reached, timeout, f"the order of airing {airing_id} at cluster {cluster_id} to be {status}")

    def audits(self, action: str) -> list[AuditEvent]:
        """Audit events of this action, oldest first."""
        with self.db.session() as s:
            return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


WorldFactory = Callable[..., DeliveryWorld]


class Worlds:
    """Makes ``DeliveryWorld``s under one directory (quick retries unless told), and takes them down."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[DeliveryWorld] = []

    def build(self, clusters: int = 3, *, busy_timeout_s: float | None = None, **overrides: Any) -> DeliveryWorld:
        """A commune of ``clusters`` http clusters, each answered by the scripted agents (default: stored)."""
        settings = delivery_settings(self.root, free_port(), **({"delivery_retry_initial_s": 0.1,
                                                                 "delivery_retry_max_s": 0.3} | overrides))
        db = Database(settings.effective_database_url, **({"busy_timeout_s": busy_timeout_s} if busy_timeout_s else {}))
        db.upgrade()
        world = DeliveryWorld(settings, db, seed_commune(db, clusters), ScriptedAgents().start(),
                              AudioCache(settings.cache_dir))
        self.made.append(world)
        for cluster in world.clusters:
            world.point(cluster, world.agents.url_of(str(cluster)))
        return world

    def close(self) -> None:
        """Close the services, stop the agents, let the databases go."""
        for world in self.made:
            world.close()
            world.agents.stop()
            world.db.dispose()
