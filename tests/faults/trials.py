"""Fault-injection trials: real processes killed at each crash boundary, real corrupted files, a real
full disk and a real held database lock; what aired is counted from the agents' own play logs.

One ``FaultWorld`` is a data directory, a ``broadcaster serve`` process (restarted at will, with a
crash point: ``broadcaster.faults``) and real agent processes with the null player, one per cluster.
``run_trial(world, fault, number)`` puts one emergency (or one session) on the air through the
fault and returns, per cluster, what happened there:

- ``once``: the agent's player started it once (``cut_short`` also counted when that one play was
  interrupted, e.g. the agent itself was killed while playing: it is not replayed);
- ``twice``: it started more than once (the promise broken);
- ``failed``: it never started, and the broadcast log says why (a delivery or airing failed or
  missed, with its reason);
- ``lost``: it never started and nothing says why (the promise broken).

Shared by tests/faults (one trial per fault) and ``bench/faults.py`` (many).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from broadcaster.api import API_PREFIX
from broadcaster.clock import LOCAL_ZONE
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.faults import ENV as CRASH_ENV
from broadcaster.models import Airing, AiringItem, AiringStatus, Delivery, DeliveryOrder, OrderStatus, User
from broadcaster.services import auth
from tests.agent.harness import AgentProcess, free_port, wait_for
from tests.e2e.harness import ServerProcess, agent_for, delivery_settings, seed_commune
from tests.fakes.small_disk import fill
from tests.fakes.sqlite_lock import held_write_lock
from tests.scheduler.support import write_timetable

SERVER_BOUNDARIES = ("accepted", "rendering", "handed_off", "fan_out")
AGENT_BOUNDARIES = ("downloaded", "playing")
FAULTS = (*SERVER_BOUNDARIES, "session_fan_out", *AGENT_BOUNDARIES, "cache_corrupt", "agent_file_corrupt",
          "database_locked", "disk_full")
FINAL_DELIVERY = {"played", "failed", "missed", "cancelled"}
TRIAL_TIMEOUT_S = 90.0


@dataclass
class Outcome:
    """What one trial left at each cluster."""

    fault: str
    per_cluster: dict[int, str] = field(default_factory=dict)  # once, twice, failed, lost
    cut_short: int = 0
    notes: list[str] = field(default_factory=list)

    def counts(self) -> Counter[str]:
        """How many clusters ended each way."""
        return Counter(self.per_cluster.values())


class FaultWorld:
    """A commune with clusters, its server process and its agents, all under ``root``."""

    def __init__(self, root: Path, *, clusters: int = 2, disk: Path | None = None, transport: str = "http",
                 **overrides: Any) -> None:
        self.root = root
        self.port = free_port()
        base = disk or root
        values: dict[str, Any] = {
            "data_dir": base / "data", "cache_dir": base / "cache", "schedules_dir": root / "schedules",
            "run_scheduler": True, "prompt_delay_s": 3.0, "misfire_grace_s": 600.0, "emergency_retry_s": 1.0,
            "scheduler_lease_renew_s": 1.0, "lead_time_s": 12.0, "database_busy_timeout_s": 1.0,
            "min_free_disk_bytes": 1024**2,
        }
        self.settings: Settings = delivery_settings(root, self.port, **(values | overrides))
        self.settings.schedules_dir.mkdir(parents=True, exist_ok=True)
        self.schedule_session_at(datetime.now(LOCAL_ZONE) + timedelta(hours=12))
        self.db = Database(self.settings.effective_database_url, busy_timeout_s=5.0)
        self.db.upgrade()
        self.seed = seed_commune(self.db, clusters, users=True, transport=transport)
        with self.db.session() as s:
            approver = s.get_one(User, self.seed.users["approver"])
            self.token = auth.issue_token(s, approver, ttl=timedelta(days=1)).token
            # Four eyes: the officer writes and submits, the approver approves.
            officer = s.get_one(User, self.seed.users["officer"])
            self.officer_token = auth.issue_token(s, officer, ttl=timedelta(days=1)).token
        self.server = ServerProcess(self.settings, self.port, root)
        self.agents = [agent_for(root, cluster, self.seed, self.settings, prepare_lead_s=1.0)
                       for cluster in self.seed.clusters]

    # --- processes ---------------------------------------------------------------------------------

    def start(self) -> FaultWorld:
        """Server and agents up; whatever started is stopped again if one of them does not come up."""
        try:
            self.server.start()
            for agent in self.agents:
                agent.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Everything down."""
        for agent in self.agents:
            if agent.alive():
                agent.kill()
        self.server.stop()
        self.db.dispose()

    def restart_server(self, crash_at: str | None = None) -> None:
        """Stop the server if it runs (SIGKILL: a crash) and start it again, with a crash point if given."""
        self.kill_server()
        self.server.start(env={CRASH_ENV: crash_at} if crash_at else None)

    def kill_server(self) -> None:
        """SIGKILL the server (if it still runs) and wait for it."""
        process = self.server.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
        if process is not None:
            process.wait(timeout=30)

    def wait_server_dead(self, timeout: float = 60.0) -> None:
        """Wait for the server to kill itself at its crash point."""
        process = self.server.process
        assert process is not None
        wait_for(lambda: process.poll() is not None, timeout, "the server to die at its crash point")
        assert process.returncode == -signal.SIGKILL, f"the server exited with {process.returncode}, not SIGKILL"

    def restart_agent(self, agent: AgentProcess, crash_at: str | None = None) -> None:
        """SIGKILL an agent if it runs and start it again (with a crash point if given)."""
        if agent.alive():
            agent.kill()
        agent.start(env={CRASH_ENV: crash_at} if crash_at else None)

    def schedule_session_at(self, starts_at: datetime) -> datetime:
        """The timetable: one daily session at ``starts_at`` (read when the server starts)."""
        starts_at = (starts_at + timedelta(seconds=1)).replace(microsecond=0)
        write_timetable(self.settings.schedules_dir, [("thu", starts_at, 1.0)])
        return starts_at

    # --- the API, as an approver ---------------------------------------------------------------------

    def request(self, method: str, path: str, *, as_officer: bool = False, **kwargs: Any) -> httpx.Response | None:
        """One API call, as the approver (or the officer); None when the connection broke (the server died under it)."""
        token = self.officer_token if as_officer else self.token
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        try:
            return httpx.request(method, f"{self.server.url}{API_PREFIX}{path}", headers=headers, timeout=60,
                                 **kwargs)
        except httpx.TransportError:
            return None

    def emergency(self, text: str, key: str) -> httpx.Response | None:
        """POST /emergencies with an Idempotency-Key."""
        return self.request("POST", "/emergencies", json={"title": text[:40], "text": text, "repeat": 1},
                            headers={"Idempotency-Key": key})

    def bulletin_id_by_key(self, key: str) -> int | None:
        """The bulletin a key created (whatever the client heard)."""
        from broadcaster.models import Bulletin

        with self.db.session() as s:
            return s.scalar(select(Bulletin.id).where(Bulletin.idempotency_key == key))

    # --- what happened -------------------------------------------------------------------------------

    def orders_by_cluster(self, bulletin_id: int) -> dict[int, set[str]]:
        """Every play order of every airing holding the bulletin, by cluster."""
        with self.db.session() as s:
            rows = s.execute(select(DeliveryOrder.cluster_id, DeliveryOrder.order_id).where(
                DeliveryOrder.kind == "play",
                DeliveryOrder.airing_id.in_(select(AiringItem.airing_id).where(AiringItem.bulletin_id == bulletin_id))))
        found: dict[int, set[str]] = {c.id: set() for c in self.seed.clusters}
        for cluster_id, order_id in rows:
            found.setdefault(cluster_id, set()).add(order_id)
        return found

    def plays(self, agent: AgentProcess, order_ids: set[str]) -> list[dict[str, Any]]:
        """The agent's own play log (its null player's starts and ends) for these orders."""
        return [event for event in agent.played() if event["label"] in order_ids]

    def settled(self, bulletin_id: int) -> bool:
        """Nothing left to happen: no airing planned, no order queued, every delivery final."""
        with self.db.session() as s:
            airings = list(s.scalars(select(Airing).where(
                Airing.id.in_(select(AiringItem.airing_id).where(AiringItem.bulletin_id == bulletin_id)))))
            if not airings or any(a.status == AiringStatus.PLANNED for a in airings):
                return False
            ids = [a.id for a in airings]
            queued = s.scalar(select(DeliveryOrder.order_id).where(
                DeliveryOrder.airing_id.in_(ids), DeliveryOrder.status == OrderStatus.QUEUED).limit(1))
            states = {str(d.state) for d in s.scalars(select(Delivery).where(Delivery.airing_id.in_(ids)))}
        return queued is None and bool(states) and states <= FINAL_DELIVERY

    def outcome(self, fault: str, bulletin_id: int | None) -> Outcome:
        """Count, per cluster, the starts in the agents' own logs; explain the clusters where none is."""
        result = Outcome(fault)
        orders = self.orders_by_cluster(bulletin_id) if bulletin_id is not None else {}
        reasons = self._reasons(bulletin_id) if bulletin_id is not None else {}
        for agent, cluster in zip(self.agents, self.seed.clusters, strict=True):
            events = self.plays(agent, orders.get(cluster.id, set()))
            starts = [e for e in events if e["event"] == "start"]
            ends = {e["label"]: e for e in events if e["event"] == "end"}
            if len(starts) == 1:
                result.per_cluster[cluster.id] = "once"
                end = ends.get(starts[0]["label"])
                if end is None or not end["completed"]:
                    result.cut_short += 1
            elif starts:
                result.per_cluster[cluster.id] = "twice"
            elif reasons.get(cluster.id):
                result.per_cluster[cluster.id] = "failed"
                result.notes.append(f"cluster {cluster.id}: {reasons[cluster.id]}")
            else:
                result.per_cluster[cluster.id] = "lost"
        return result

    def _reasons(self, bulletin_id: int) -> dict[int, str]:
        with self.db.session() as s:
            airings = list(s.scalars(select(Airing).where(
                Airing.id.in_(select(AiringItem.airing_id).where(AiringItem.bulletin_id == bulletin_id)))))
            reasons: dict[int, str] = {}
            for airing in airings:
                for delivery in airing.deliveries:
                    if str(delivery.state) in ("failed", "missed") and delivery.error:
                        reasons[delivery.cluster_id] = delivery.error
                if airing.status in (AiringStatus.MISSED, AiringStatus.FAILED) and airing.note:
                    for cluster in self.seed.clusters:
                        reasons.setdefault(cluster.id, airing.note)
        return reasons

    def finish(self, fault: str, bulletin_id: int | None) -> Outcome:
        """Wait until the bulletin's airing settled (or the trial times out), take it off the air, count."""
        if bulletin_id is not None:
            try:
                wait_for(lambda: self.settled(bulletin_id), TRIAL_TIMEOUT_S, f"the {fault} trial to settle",
                         interval=0.3)
            except AssertionError as error:
                outcome = self.outcome(fault, bulletin_id)
                outcome.notes.append(str(error))
                return outcome
            time.sleep(1.0)  # a replay (the failure this counts) would start within a second or two
        outcome = self.outcome(fault, bulletin_id)
        if bulletin_id is not None:  # an emergency also airs in the sessions of its window: not in the next trial
            self.request("POST", f"/bulletins/{bulletin_id}/cancel", json={"reason": "hết thử nghiệm"})
        return outcome


def _text(fault: str, number: int) -> str:
    return f"Khẩn cấp, thử nghiệm {fault.replace('_', ' ')} lần {number}: bà con chú ý."


def _retry_until_accepted(world: FaultWorld, text: str, key: str, tries: int = 20) -> httpx.Response:
    """What a client does after a failure: send the same request (same key) again until it is answered."""
    for _ in range(tries):
        answer = world.emergency(text, key)
        if answer is not None and answer.status_code in (200, 201):
            return answer
        time.sleep(1.0)
    raise AssertionError(f"the emergency was never accepted: {answer.text if answer is not None else 'no answer'}")


def server_crash(world: FaultWorld, fault: str, number: int) -> Outcome:
    """SIGKILL the server at an emergency's boundary, restart it, retry with the same key."""
    key, text = f"{fault}-{number}-{uuid.uuid4().hex[:6]}", _text(fault, number)
    delay = ":1.5" if fault == "fan_out" else ""  # let the lanes send before the kill
    world.restart_server(crash_at=f"{fault}{delay}")
    first = world.emergency(text, key)
    world.wait_server_dead()
    outcome_note = f"first answer: {first.status_code if first is not None else 'connection lost'}"
    world.restart_server()
    retry = _retry_until_accepted(world, text, key)
    airing = retry.json()["airing"]
    if airing is None:
        raise AssertionError("the retry answered airing null")
    outcome = world.finish(fault, world.bulletin_id_by_key(key))
    outcome.notes.append(f"{outcome_note}; retry: {retry.status_code} {airing['status']}")
    return outcome


def session_fan_out(world: FaultWorld, fault: str, number: int) -> Outcome:
    """A session killed during fan-out; the restart comes while the agents already play it."""
    text = f"Thông báo buổi phát thử nghiệm lần {number}: bà con chú ý nghe."
    created = world.request("POST", "/bulletins", json={"title": text[:40], "text": text}, as_officer=True)
    assert created is not None and created.status_code == 201, created.text if created else None
    bulletin_id = created.json()["id"]
    world.request("POST", f"/bulletins/{bulletin_id}/submit", as_officer=True)
    approved = world.request("POST", f"/bulletins/{bulletin_id}/approve")
    assert approved is not None and approved.status_code == 200, approved.text if approved else None
    starts_at = world.schedule_session_at(datetime.now(LOCAL_ZONE) + timedelta(seconds=20))
    world.restart_server(crash_at="fan_out:1.5")
    world.wait_server_dead(timeout=60)
    orders = world.orders_by_cluster(bulletin_id)
    # Restart only once the programme is on the air: a recomposition now would stop it and play it again.
    wait_for(lambda: all(world.plays(a, orders[c.id]) for a, c in zip(world.agents, world.seed.clusters,
                                                                      strict=True)),
             max(30.0, (starts_at - datetime.now(LOCAL_ZONE)).total_seconds() + 20), "the agents to play it")
    world.restart_server()
    return world.finish(fault, bulletin_id)


def agent_crash(world: FaultWorld, fault: str, number: int) -> Outcome:
    """SIGKILL the first agent at its boundary (downloaded, playing) and start it again."""
    victim = world.agents[0]
    delay = ":1.0" if fault == "playing" else ""
    world.restart_agent(victim, crash_at=f"{fault}{delay}")
    key, text = f"{fault}-{number}-{uuid.uuid4().hex[:6]}", _text(fault, number)
    answer = world.emergency(text, key)
    assert answer is not None and answer.status_code == 201, answer.text if answer else None
    process = victim.process
    assert process is not None
    wait_for(lambda: process.poll() is not None, 60, f"the agent to die at {fault}")
    victim.start()
    return world.finish(fault, world.bulletin_id_by_key(key))


def cache_corrupt(world: FaultWorld, fault: str, number: int) -> Outcome:
    """The programme damaged in the server's cache (a byte flipped, mtime set back) before any agent fetched it."""
    for agent in world.agents:
        agent.terminate()
    key, text = f"{fault}-{number}-{uuid.uuid4().hex[:6]}", _text(fault, number)
    answer = world.emergency(text, key)
    assert answer is not None and answer.status_code == 201, answer.text if answer else None
    flip_cached(world.settings.cache_dir, answer.json()["airing"]["audio_sha256"])
    for agent in world.agents:
        agent.start()
    return world.finish(fault, world.bulletin_id_by_key(key))


def agent_file_corrupt(world: FaultWorld, fault: str, number: int) -> Outcome:
    """The downloaded programme damaged on the first agent's card before it plays."""
    key, text = f"{fault}-{number}-{uuid.uuid4().hex[:6]}", _text(fault, number)
    answer = world.emergency(text, key)
    assert answer is not None and answer.status_code == 201, answer.text if answer else None
    stored = world.agents[0].state_dir / "audio" / f"{answer.json()['airing']['audio_sha256']}.audio"
    wait_for(stored.exists, 20, "the agent to store the audio")
    flip(stored)
    return world.finish(fault, world.bulletin_id_by_key(key))


def database_locked(world: FaultWorld, fault: str, number: int) -> Outcome:
    """Another process holds the SQLite write lock while the emergency is sent (503), and while it plays."""
    key, text = f"{fault}-{number}-{uuid.uuid4().hex[:6]}", _text(fault, number)
    database = Path(world.settings.effective_database_url.split("///", 1)[1])
    with held_write_lock(database):
        refused = world.emergency(text, key)
    assert refused is not None and refused.status_code == 503, refused.text if refused else None
    assert refused.json()["error"]["code"] == "database_busy" and refused.headers.get("retry-after")
    answer = _retry_until_accepted(world, text, key)
    with held_write_lock(database):  # the agents' reports meet a busy database too: they wait and resend
        time.sleep(2.0)
    outcome = world.finish(fault, world.bulletin_id_by_key(key))
    outcome.notes.append(f"503 database_busy, then {answer.status_code}")
    return outcome


def disk_full(world: FaultWorld, fault: str, number: int) -> Outcome:
    """The server's disk (a small tmpfs: data and cache) full when the emergency is sent; then freed."""
    assert world.settings.data_dir.parent != world.root, "disk_full needs a FaultWorld on a small disk"
    key, text = f"{fault}-{number}-{uuid.uuid4().hex[:6]}", _text(fault, number)
    filler = fill(world.settings.data_dir.parent)
    try:
        refused = world.emergency(text, key)
    finally:
        filler.unlink()
    assert refused is not None and refused.status_code in (201, 503), refused.text if refused else None
    if refused.status_code == 503:
        assert refused.json()["error"]["code"] == "storage_full" and refused.headers.get("retry-after")
    answer = _retry_until_accepted(world, text, key)
    outcome = world.finish(fault, world.bulletin_id_by_key(key))
    outcome.notes.append(f"first {refused.status_code}, then {answer.status_code}")
    return outcome


TRIALS: dict[str, Callable[[FaultWorld, str, int], Outcome]] = {
    **{boundary: server_crash for boundary in SERVER_BOUNDARIES},
    "session_fan_out": session_fan_out,
    **{boundary: agent_crash for boundary in AGENT_BOUNDARIES},
    "cache_corrupt": cache_corrupt,
    "agent_file_corrupt": agent_file_corrupt,
    "database_locked": database_locked,
    "disk_full": disk_full,
}


def run_trial(world: FaultWorld, fault: str, number: int = 1) -> Outcome:
    """One trial of ``fault`` in ``world`` (started)."""
    return TRIALS[fault](world, fault, number)


def flip(path: Path) -> None:
    """Flip one byte in the middle of a file and set its modification time back."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def flip_cached(cache_dir: Path, audio_sha256: str) -> Path:
    """Damage the cached file whose sidecar names this audio hash; the file."""
    for sidecar in cache_dir.glob("*.json"):
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("audio_sha256") == audio_sha256:
            audio = sidecar.with_suffix(f".{meta['fmt']}")
            flip(audio)
            assert hashlib.sha256(audio.read_bytes()).hexdigest() != audio_sha256
            return audio
    raise AssertionError(f"no cached file holds {audio_sha256}")
