"""Real servers for delivery tests: the app under uvicorn (in this process or as ``broadcaster serve``),
seeded communes with clusters, and real agent processes (``tests.agent.harness.AgentProcess``).

Shared by tests/e2e and tests/delivery (import ``tests.e2e.harness``); functions and classes only.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from sqlalchemy import select

from broadcaster.app import create_app
from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.delivery.agent_auth import agent_public_key, broker_password
from broadcaster.delivery.keys import load_or_create_signing_key, public_key_base64
from broadcaster.delivery.mosquitto import password_hash
from broadcaster.models import (
    Airing,
    AiringKind,
    AuditEvent,
    Cluster,
    Commune,
    Delivery,
    DeliveryOrder,
    Priority,
    Role,
)
from broadcaster.services.handoff import ClusterProgramme
from broadcaster.services.users import create_user
from tests.agent.harness import BROADCASTER, AgentProcess, free_port, wait_for
from tests.databases import database_url
from tests.fakes.processes import killed_on_failure

PASSWORD = "mat-khau-thu-nghiem-2026"


def delivery_settings(root: Path, port: int, **overrides: Any) -> Settings:
    """Settings of a test server on ``port``: everything under ``root``, orders delivered, quick retries."""
    values: dict[str, Any] = {
        "data_dir": root / "data", "cache_dir": root / "cache", "schedules_dir": Path("schedules").resolve(),
        "public_url": f"http://127.0.0.1:{port}", "handoff": "deliver", "run_scheduler": False,
        "agent_heartbeat_interval_s": 0.5, "delivery_retry_initial_s": 0.2, "delivery_retry_max_s": 1.0,
        "delivery_timeout_s": 3.0, "prompt_delay_s": 3.0,
    }
    if "database_url" not in overrides:
        values["database_url"] = database_url(Path(overrides.get("data_dir", values["data_dir"])))
    return Settings(**(values | overrides))


class InProcessServer:
    """The real app served by uvicorn in a thread of the test process, on a fixed port."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.settings = settings
        self.port = port
        self.app = create_app(settings)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def runtime(self) -> Any:
        """The app's runtime (database, speech, delivery)."""
        return self.app.state.runtime

    def start(self) -> InProcessServer:
        """Serve, and wait until the lifespan has run (delivery started, orders resumed)."""
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        try:
            wait_for(lambda: self._server is not None and self._server.started, 30, "the server to start")
        except BaseException:
            self.stop()  # a server still starting would serve on after the failed set-up
            raise
        return self

    def stop(self) -> None:
        """Shut down cleanly (lifespan shutdown: delivery closes, queued orders stay stored)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self._server = self._thread = None


class ServerProcess:
    """``broadcaster serve`` as a subprocess with a YAML config."""

    def __init__(self, settings: Settings, port: int, root: Path) -> None:
        self.port = port
        self.config_path = root / "server.yaml"
        self.log_path = root / "server.log"
        values = settings.model_dump(mode="json", exclude_unset=True)
        self.config_path.write_text(yaml.safe_dump(values), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str] | None = None, timeout: float = 60.0) -> ServerProcess:
        """Start and wait for /health (``env``: extra variables, e.g. a crash point); killed if it does not come up."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BROADCASTER), "serve", "--config", str(self.config_path), "--port", str(self.port),
                 "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"server exited:\n{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        with killed_on_failure(self.process):
            wait_for(healthy, timeout, "the server to answer /health", interval=0.2)
        return self

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@dataclass
class Seed:
    """A commune with clusters (ids, names, report secrets, agent ports) and its users."""

    commune_id: int
    clusters: list[Cluster] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    secrets: dict[int, str] = field(default_factory=dict)  # each agent's credential (the server keeps public keys)


def seed_commune(db: Database, clusters: int, *, code: str = "xa-an-binh", users: bool = False,
                 transport: str = "http") -> Seed:
    """A commune with ``clusters`` clusters (agents on free local ports for ``http``), and users if asked."""
    with db.session() as s:
        commune = Commune(code=code, name=f"Xã {code}")
        s.add(commune)
        s.flush()
        seed = Seed(commune.id)
        for number in range(1, clusters + 1):
            port = free_port()
            secret = f"bi-mat-cum-{number}-{code}"
            cluster = Cluster(commune_id=commune.id, name=f"Cụm loa {number}", transport=transport,
                              agent_url=f"http://127.0.0.1:{port}" if transport == "http" else "",
                              agent_public_key=agent_public_key(secret),
                              broker_password_hash=password_hash(broker_password(secret)))
            s.add(cluster)
            s.flush()
            seed.clusters.append(cluster)
            seed.ports[cluster.id] = port if transport == "http" else 0
            seed.secrets[cluster.id] = secret
        if users:
            for role in (Role.OFFICER, Role.APPROVER, Role.ADMIN):
                user = create_user(s, None, username=f"{role.value}-{code}", password=PASSWORD, role=role,
                                   commune_id=commune.id)
                seed.users[role.value] = user.id
    return seed


def agent_for(root: Path, cluster: Cluster, seed: Seed, settings: Settings, **options: Any) -> AgentProcess:
    """A real agent process for ``cluster``, trusting the server's key and reporting to its URL."""
    key = public_key_base64(load_or_create_signing_key(settings.data_dir).public_key())
    options.setdefault("transport", cluster.transport)
    return AgentProcess(root / f"agent-{cluster.id}", cluster_id=str(cluster.id), server_url=settings.public_url,
                        public_key=options.pop("public_key", key), secret=options.pop("secret", seed.secrets[cluster.id]),
                        port=seed.ports[cluster.id], **options)


def add_airing(db: Database, commune_id: int, starts_at: datetime, *, kind: AiringKind = AiringKind.SESSION) -> int:
    """An airing row (what programming creates before it hands off)."""
    with db.session() as s:
        airing = Airing(commune_id=commune_id, kind=kind, session_name=f"thu-{starts_at.timestamp():.6f}",
                        starts_at=starts_at)
        s.add(airing)
        s.flush()
        return airing.id


def programme(airing_id: int, cluster_id: int, audio: Any, *, play_in: float, expires_in: float = 60.0,
              priority: Priority = Priority.NORMAL) -> ClusterProgramme:
    """A programme for one cluster, playing ``play_in`` seconds from now."""
    play_at = datetime.now(LOCAL_ZONE) + timedelta(seconds=play_in)
    return ClusterProgramme(airing_id, cluster_id, audio, play_at, play_at + timedelta(seconds=expires_in), priority)


def delivery(db: Database, airing_id: int, cluster_id: int) -> Delivery | None:
    """The delivery row of an airing at a cluster."""
    with db.session() as s:
        return s.scalar(select(Delivery).where(Delivery.airing_id == airing_id, Delivery.cluster_id == cluster_id))


def wait_delivery(db: Database, airing_id: int, cluster_id: int, states: set[str], timeout: float = 30.0) -> Delivery:
    """Wait until the delivery reaches one of ``states``."""
    def reached() -> Delivery | None:
        row = delivery(db, airing_id, cluster_id)
        return row if row is not None and str(row.state) in states else None

    try:
        return wait_for(reached, timeout, f"delivery of airing {airing_id} at cluster {cluster_id} to be {states}")
    except AssertionError:
        row = delivery(db, airing_id, cluster_id)
        raise AssertionError(f"delivery is {row.state if row else None} ({row.error if row else ''})") from None


def orders_of(db: Database, airing_id: int, cluster_id: int) -> list[DeliveryOrder]:
    """The orders issued for an airing at a cluster, oldest first."""
    with db.session() as s:
        return list(s.scalars(select(DeliveryOrder).where(DeliveryOrder.airing_id == airing_id,
                                                          DeliveryOrder.cluster_id == cluster_id)
                              .order_by(DeliveryOrder.seq)))


def audit_actions(db: Database, object_type: str = "delivery") -> list[AuditEvent]:
    """Every audit event about deliveries, oldest first."""
    with db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.object_type == object_type).order_by(AuditEvent.id)))


def today() -> date:
    """Today in the communes' zone."""
    return datetime.now(LOCAL_ZONE).date()
