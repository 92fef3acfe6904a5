"""The demo's moving parts: a seeded commune, the server and its agents as real local processes.

``seed_demo`` creates (or, on a later run, refreshes) a commune with three villages, one speaker
cluster each, and an officer, an approver and an admin with fresh passwords. ``DemoStack`` runs
``broadcaster serve`` and one ``broadcaster agent`` per cluster as subprocesses, logging to files
under the demo directory, and stops them all (SIGTERM, then SIGKILL) however the demo ends. The
agents dial out to the server (``pull``), as boxes behind a carrier's NAT must: none listens on a port.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import select

from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.delivery.keys import load_or_create_signing_key
from broadcaster.errors import ServiceFailure
from broadcaster.models import Cluster, Role, User, Zone
from broadcaster.services import registry, users
from broadcaster.services.provisioning import agent_config, issue_agent_credentials
from broadcaster.services.scoping import CommuneNotFound

COMMUNE_CODE = "xa-an-binh-demo"
COMMUNE_NAME = "Xã An Bình (thử nghiệm)"
VILLAGES = ("Thôn 1", "Thôn 3", "Thôn 5")
ACCOUNTS = (("canbo", Role.OFFICER, "Cán bộ văn hóa xã"), ("lanhdao", Role.APPROVER, "Lãnh đạo xã"),
            ("quantri", Role.ADMIN, "Quản trị viên xã"))
HEARTBEAT_S = 5.0
# The same interpreter, whatever the console script is called or wherever it is installed.
_CLI = "import sys; from broadcaster.cli import main; sys.exit(main(sys.argv[1:]))"


class DemoFailed(ServiceFailure):
    """A part of the demo did not start."""

    code = "demo_failed"


@dataclass
class DemoSeed:
    """What the demo created: the commune, its clusters (id, name) and the logins."""

    commune_id: int
    clusters: list[tuple[int, str]] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if nobody listens there, else a free port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise DemoFailed("Không tìm được cổng mạng trống.")


def seed_demo(db: Database, settings: Settings) -> DemoSeed:
    """Create or refresh the demo commune, its clusters (pull agents) and accounts."""
    passwords = {username: secrets.token_urlsafe(9) for username, _role, _name in ACCOUNTS}
    with db.session() as s:
        try:
            commune = registry.find_commune_by_code(s, COMMUNE_CODE)
        except CommuneNotFound:
            commune = registry.create_commune(s, None, code=COMMUNE_CODE, name=COMMUNE_NAME, province="Tỉnh thử nghiệm",
                                              schedules_dir=settings.schedules_dir)
        accounts: dict[str, User] = {}
        for username, role, full_name in ACCOUNTS:
            existing = s.scalars(select(User).where(User.username == username)).first()
            if existing is None:
                accounts[username] = users.create_user(s, None, username=username, password=passwords[username],
                                                       role=role, commune_id=commune.id, full_name=full_name)
            else:
                users.reset_password(s, existing, passwords[username])
                accounts[username] = existing
        admin = accounts["quantri"]
        seed = DemoSeed(commune.id, passwords=passwords)
        for village in VILLAGES:
            zone = s.scalars(select(Zone).where(Zone.commune_id == commune.id, Zone.name == village)).first()
            zone = zone or registry.create_zone(s, admin, commune.id, village)
            fields = registry.ClusterFields(name=f"Cụm loa {village.lower()}", zone_id=zone.id, agent_url="",
                                            transport="pull")
            cluster = s.scalars(select(Cluster).where(Cluster.commune_id == commune.id,
                                                      Cluster.name == fields.name)).first()
            if cluster is None:
                cluster = registry.create_cluster(s, admin, commune.id, fields)
            else:
                cluster = registry.update_cluster(s, admin, cluster.id, fields)
            seed.clusters.append((cluster.id, cluster.name))
    return seed


def sound_device_present() -> bool:
    """Whether a real ALSA playback device and ``aplay`` exist (checked cautiously: no sound is made)."""
    snd = Path("/dev/snd")
    return snd.is_dir() and any(p.name.endswith("p") for p in snd.glob("pcmC*D*")) and bool(shutil.which("aplay"))


class DemoStack:
    """The server and agent processes of one demo run."""

    def __init__(self, directory: Path, settings: Settings) -> None:
        self.directory = directory
        self.settings = settings
        self.logs = directory / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        # The children read their configuration files only: the caller's BROADCASTER_* stay out.
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")} | {"PYTHONUNBUFFERED": "1"}

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen([sys.executable, "-c", _CLI, *args], stdout=log,
                                       stderr=subprocess.STDOUT, env=self._env, cwd=self.directory)
        self.processes.append((name, process))
        return process

    def start_server(self, port: int, timeout_s: float = 90.0) -> str:
        """Run ``broadcaster serve`` on ``port``; its URL once /health answers."""
        config = self.directory / "server.yaml"
        config.write_text(yaml.safe_dump(self.settings.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")
        process = self._spawn("server", "serve", "--config", str(config), "--port", str(port), "--log-level",
                              "warning")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DemoFailed(f"Máy chủ không khởi động được; xem {self.logs / 'server.log'}.",
                                 detail=self.tail("server"))
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise DemoFailed(f"Máy chủ không trả lời sau khi khởi động; xem {self.logs / 'server.log'}.",
                         detail=self.tail("server"))

    def start_agents(self, db: Database, seed: DemoSeed, *, sound: bool) -> list[Path]:
        """Provision and run one agent per cluster (the first on the sound card if asked); their play logs."""
        public_key = load_or_create_signing_key(self.settings.data_dir).public_key()
        play_logs: list[Path] = []
        with db.session() as s:
            for index, (cluster_id, _name) in enumerate(seed.clusters):
                cluster = s.get_one(Cluster, cluster_id)
                state = self.directory / "agents" / str(cluster_id)
                play_log = state / "played.jsonl"
                player = "aplay" if sound and index == 0 else "null"
                secret = issue_agent_credentials(cluster)  # what `broadcaster speaker config` does
                config = agent_config(cluster, self.settings, public_key, secret, state_dir=state, player=player,
                                      heartbeat_interval_s=HEARTBEAT_S,
                                      player_options={"log": str(play_log)} if player == "null" else {},
                                      retry_initial_s=0.5, retry_max_s=5.0)
                path = self.directory / f"agent-{cluster_id}.yaml"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the cluster's secret
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    yaml.safe_dump(config, handle, allow_unicode=True)
                (state / "agent.json").unlink(missing_ok=True)
                self._spawn(f"agent-{cluster_id}", "agent", "--config", str(path))
                play_logs.append(play_log)
        return play_logs

    def wait_agents(self, seed: DemoSeed, timeout_s: float = 60.0) -> None:
        """Wait until every agent runs (it writes its agent.json)."""
        deadline = time.monotonic() + timeout_s
        for cluster_id, _name in seed.clusters:
            ready = self.directory / "agents" / str(cluster_id) / "agent.json"
            while not _ready(ready):
                if any(p.poll() is not None for n, p in self.processes if n == f"agent-{cluster_id}"):
                    raise DemoFailed(f"Phần mềm cụm loa số {cluster_id} không khởi động được; xem {self.logs}.",
                                     detail=self.tail(f"agent-{cluster_id}"))
                if time.monotonic() > deadline:
                    raise DemoFailed(f"Phần mềm cụm loa số {cluster_id} không sẵn sàng.")
                time.sleep(0.1)

    def alive(self) -> bool:
        """Whether every process still runs."""
        return all(process.poll() is None for _name, process in self.processes)

    def tail(self, name: str, lines: int = 30) -> str:
        """The end of one process's log."""
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM everything (agents first, then the server), SIGKILL what does not exit."""
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _name, process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _ready(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text()).get("pid"))
    except (OSError, ValueError):
        return False


def demo_settings(base: Settings, directory: Path, port: int) -> Settings:
    """The demo server's settings: its own data under ``directory``, the shared audio cache, delivery on."""
    values: dict[str, Any] = base.model_dump()
    values.update(data_dir=directory / "server", database_url=None, public_url=f"http://127.0.0.1:{port}",
                  handoff="deliver", audio_base_url=None, agent_heartbeat_interval_s=HEARTBEAT_S,
                  delivery_retry_initial_s=0.5, delivery_retry_max_s=5.0)
    return Settings(**values)
