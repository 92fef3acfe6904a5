"""Fan-out to agents that dial out: an emergency to 1,000 and 10,000 clusters over ``mqtt`` (a real
Mosquitto), and to 1,000 over ``pull``. Run through ``bench/fanout.py --dialout``.

The server is a real ``broadcaster serve`` (SQLite). The simulated agents are real clients spread
over a few processes: over mqtt, one aiomqtt client per cluster with its own credentials, a
persistent session, a last will and its retained "online"; over pull, one signed long-poll per
cluster. Each verifies the Ed25519 order for its cluster and records when it arrived; at 1,000
clusters each also downloads the audio and checks its sha256. Measured: the emergency API call,
the time from its return until every order was received (and downloaded), orders/s, the server's
CPU seconds and peak RSS, the broker's peak RSS, and over pull the server's RSS with 1,000 agents
connected and idle beside none.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import func, select

from bench.fanout import PASSWORD, REPEAT, free_port, peak_rss_mb, spawn, wait_http
from broadcaster.cli.demo import SAMPLE_BULLETIN
from broadcaster.config import Settings
from broadcaster.db import Database
from broadcaster.delivery.agent_auth import (
    agent_public_key,
    agent_signing_key,
    broker_password,
    sign_agent_request,
)
from broadcaster.delivery.keys import load_or_create_signing_key, load_public_key, public_key_base64
from broadcaster.delivery.mosquitto import password_hash
from broadcaster.delivery.mqtt_topics import OFFLINE, ONLINE, orders_topic, status_topic
from broadcaster.delivery.orders import LOCAL_ZONE, OrderVerifier
from broadcaster.delivery.pull_wire import PULL_PATH, PullAnswer, PullRequest
from broadcaster.models import Cluster, Commune, Role
from broadcaster.services.broker_files import write_broker_files
from broadcaster.services.users import create_user

SIM_PROCESSES = 4
DOWNLOAD_CONNECTIONS = 50  # per simulating process


def secret_of(index: int) -> str:
    """The bench's credential of cluster ``index`` (deterministic: the simulators derive it too)."""
    return f"bi-mat-do-tai-{index:06d}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Current resident set of a live process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- simulated agents (child processes) ---------------------------------------------------------


def simulate(kind: str, ids: list[int], spec: dict[str, Any], out: Path) -> None:
    """Run the simulated agents of one process until ``spec["seconds"]`` passed; results as JSON to ``out``."""
    records: dict[str, dict[str, float]] = {}
    verifier = OrderVerifier([load_public_key(spec["public_key"])])

    async def main() -> None:
        limits = httpx.Limits(max_connections=DOWNLOAD_CONNECTIONS, max_keepalive_connections=DOWNLOAD_CONNECTIONS)
        async with httpx.AsyncClient(timeout=120, limits=limits) as http:
            async def take(cluster: str, payload: bytes) -> None:
                order = verifier.verify(payload, cluster_id=cluster, now=datetime.now(LOCAL_ZONE))
                record = records.setdefault(cluster, {"received_at": time.time()})
                if spec["download"] and order.audio_url and "downloaded_at" not in record:
                    digest = hashlib.sha256()
                    async with http.stream("GET", order.audio_url) as response:
                        async for chunk in response.aiter_raw():
                            digest.update(chunk)
                    if digest.hexdigest() == order.audio_sha256:
                        record["downloaded_at"] = time.time()

            agents = [mqtt_agent(i, spec, take) if kind == "mqtt" else pull_agent(i, spec, take) for i in ids]
            tasks = [asyncio.create_task(agent) for agent in agents]
            deadline = time.time() + spec["seconds"]  # a cap: normally every box got (and fetched) its order
            key = "downloaded_at" if spec["download"] else "received_at"
            while time.time() < deadline and sum(1 for r in records.values() if key in r) < len(ids):
                await asyncio.sleep(0.5)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    out.write_text(json.dumps(records))


async def mqtt_agent(index: int, spec: dict[str, Any], take: Any) -> None:
    """One simulated box on the broker: persistent session, last will, retained online, orders at QoS 1."""
    import aiomqtt

    cluster, prefix = str(index), spec["prefix"]
    will = aiomqtt.Will(status_topic(prefix, cluster), OFFLINE, qos=1, retain=True)
    while True:
        try:
            async with aiomqtt.Client("127.0.0.1", spec["broker_port"], username=f"cluster-{index}",
                                      password=broker_password(secret_of(index)), identifier=f"cluster-{index}",
                                      clean_session=False, will=will, keepalive=60) as client:
                await client.subscribe(orders_topic(prefix, cluster), qos=1)
                await client.publish(status_topic(prefix, cluster), ONLINE, qos=1, retain=True)
                async for message in client.messages:
                    asyncio.get_running_loop().create_task(take(cluster, bytes(message.payload)))
        except aiomqtt.MqttError:
            await asyncio.sleep(1 + index % 10 / 10)


async def pull_agent(index: int, spec: dict[str, Any], take: Any) -> None:
    """One simulated box long-polling the server over its own connection."""
    key, cluster = agent_signing_key(secret_of(index)), str(index)
    answers: list[PullAnswer] = []
    last_ms = 0
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1)) as http:
        while True:
            body = PullRequest(answers=answers, wait_s=25).model_dump_json().encode()
            last_ms = max(int(time.time() * 1000), last_ms + 1)
            headers = sign_agent_request(key, cluster, "pull", body, timestamp_ms=last_ms)
            try:
                response = await http.post(spec["server"] + PULL_PATH, content=body, headers=headers)
            except httpx.HTTPError:
                await asyncio.sleep(1 + index % 10 / 10)
                continue
            answers = []
            if response.status_code == 200:
                order = json.loads(response.content)["order"]
                answers = [PullAnswer(order_id=order["order_id"], seq=order["seq"], outcome="accepted")]
                asyncio.get_running_loop().create_task(take(cluster, response.content))
            elif response.status_code != 204:
                await asyncio.sleep(1)


# --- one scenario ---------------------------------------------------------------------------


def seed(settings: Settings, clusters: int, transport: str) -> None:
    """A commune of ``clusters`` clusters on ``transport`` with the bench's credentials, and an approver."""
    db = Database(settings.effective_database_url)
    db.upgrade()
    with db.session() as s:
        commune = Commune(code="xa-do-tai", name="Xã đo tải")
        s.add(commune)
        s.flush()
        s.add_all([Cluster(id=i, commune_id=commune.id, name=f"Cụm {i}", transport=transport,
                           agent_public_key=agent_public_key(secret_of(i)),
                           broker_password_hash=password_hash(broker_password(secret_of(i))) if transport == "mqtt" else "")
                   for i in range(1, clusters + 1)])
        commune_id = commune.id
    with db.session() as s:
        create_user(s, None, username="lanhdao", password=PASSWORD, role=Role.APPROVER, commune_id=commune_id)
        if transport == "mqtt":
            write_broker_files(s, settings, settings.data_dir / "broker" / "passwd", settings.data_dir / "broker" / "acl")
    db.dispose()


def raise_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit (inherited by the broker, server and simulators)."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def start_broker(directory: Path, port: int) -> subprocess.Popen[bytes]:
    """Mosquitto with the written password and ACL files."""
    config = directory / "mosquitto.conf"
    # 10,000 boxes are 10,000 sockets: Mosquitto takes its file limit from its parent (raised in
    # raise_file_limit); max_connections -1 leaves the count to that limit. The server's own
    # session receives one retained presence message per box when they all connect: its queue must
    # hold more than the number of boxes, or the broker drops the rest (docs/delivery.md).
    config.write_text(f"listener {port} 127.0.0.1\nmax_connections -1\nallow_anonymous false\n"
                      f"password_file {directory / 'passwd'}\nacl_file {directory / 'acl'}\n"
                      "persistence false\nmax_queued_messages 100000\nmax_inflight_messages 1000\n"
                      "user root\nlog_type error\n", encoding="utf-8")
    return subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def scenario(root: Path, base: Settings, transport: str, clusters: int, download: bool) -> dict[str, Any]:
    """An emergency to ``clusters`` simulated boxes over ``transport``; the measurements."""
    work = root / f"{transport}-{clusters}"
    (work / "data" / "broker").mkdir(parents=True)
    server_port, broker_port = free_port(), free_port()
    (work / "server-mqtt-password").write_text("mat-khau-may-chu\n")
    settings = base.model_copy(update={
        "data_dir": work / "data", "database_url": None, "public_url": f"http://127.0.0.1:{server_port}",
        "handoff": "deliver", "run_scheduler": False, "prompt_delay_s": 60.0, "audio_base_url": None,
        "misfire_grace_s": 600.0, "delivery_concurrency": 256, "mqtt_url": f"mqtt://127.0.0.1:{broker_port}",
        "mqtt_password_file": work / "server-mqtt-password", "agent_heartbeat_interval_s": 600.0})
    seed(settings, clusters, transport)
    broker = start_broker(work / "data" / "broker", broker_port) if transport == "mqtt" else None
    config = work / "server.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    server = spawn("-c", "import sys; from broadcaster.cli import main; sys.exit(main(sys.argv[1:]))", "serve",
                   "--config", str(config), "--port", str(server_port), "--log-level", "warning",
                   log=work / "server.log")
    sims: list[multiprocessing.Process] = []
    try:
        wait_http(f"http://127.0.0.1:{server_port}/health", server, "the server", timeout=120)
        time.sleep(2)
        rss_before_agents = rss_mb(server.pid)
        seconds = 600 + clusters * 0.1
        spec = {"public_key": public_key_base64(load_or_create_signing_key(settings.data_dir).public_key()),
                "broker_port": broker_port, "prefix": settings.mqtt_topic_prefix, "seconds": seconds,
                "server": f"http://127.0.0.1:{server_port}", "download": download}
        outs = [work / f"sim-{n}.json" for n in range(SIM_PROCESSES)]
        ids = list(range(1, clusters + 1))
        sims = [multiprocessing.Process(target=simulate, args=(transport, ids[n::SIM_PROCESSES], spec, outs[n]))
                for n in range(SIM_PROCESSES)]
        sim_started = time.time()
        for process in sims:
            process.start()
        connect_s = _wait_connected(settings, clusters, timeout=300 + clusters * 0.05)
        time.sleep(3)
        rss_connected = rss_mb(server.pid)
        token = httpx.post(f"{settings.public_url}/api/v1/auth/token", timeout=60,
                           json={"username": "lanhdao", "password": PASSWORD}).json()["access_token"]
        cpu_before = cpu_seconds(server.pid)
        called = time.time()
        answer = httpx.post(f"{settings.public_url}/api/v1/emergencies", headers={"Authorization": f"Bearer {token}"},
                            timeout=900, json={"title": "Đo tải", "text": SAMPLE_BULLETIN, "repeat": REPEAT})
        returned = time.time()
        answer.raise_for_status()
        for process in sims:
            process.join(timeout=seconds + 120)
        cpu_used = cpu_seconds(server.pid) - cpu_before
        records: dict[str, dict[str, float]] = {}
        for out in outs:
            if out.exists():
                records |= json.loads(out.read_text())
        received = sorted(r["received_at"] for r in records.values())
        downloaded = sorted(r["downloaded_at"] for r in records.values() if "downloaded_at" in r)
        result: dict[str, Any] = {
            "transport": transport, "clusters": clusters, "orders_received": len(received),
            "agents_connected_in_s": round(connect_s, 1) if connect_s is not None else None,
            "emergency_api_call_s": round(returned - called, 2),
            "all_orders_received_after_api_return_s": round(received[-1] - returned, 2) if received else None,
            "all_orders_received_after_api_call_s": round(received[-1] - called, 2) if received else None,
            "orders_per_s": round(len(received) / max(received[-1] - called, 1e-3), 1) if received else None,
            "server_cpu_s": round(cpu_used, 1), "server_peak_rss_mb": round(peak_rss_mb(server.pid), 1),
            "sim_started_to_call_s": round(called - sim_started, 1),
        }
        if broker is not None:
            result["broker_peak_rss_mb"] = round(peak_rss_mb(broker.pid), 1)
        if transport == "pull":
            result["server_rss_no_agents_mb"] = round(rss_before_agents, 1)
            result["server_rss_agents_connected_mb"] = round(rss_connected, 1)
            result["rss_cost_of_connected_agents_mb"] = round(rss_connected - rss_before_agents, 1)
        if download:
            result["audio_downloaded"] = len(downloaded)
            result["all_downloaded_after_api_return_s"] = round(downloaded[-1] - returned, 2) if downloaded else None
        return result
    finally:
        for process in sims:
            if process.is_alive():
                process.kill()
        for child in (server, broker):
            if child is not None:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()


def _wait_connected(settings: Settings, clusters: int, timeout: float) -> float | None:
    """Seconds until the server saw every simulated box connected (its link state), None if not in time."""
    db = Database(settings.effective_database_url)
    started = time.time()
    try:
        while time.time() - started < timeout:
            with db.session() as s:
                linked = s.scalar(select(func.count()).select_from(Cluster).where(Cluster.link_state == "connected"))
            if linked == clusters:
                return time.time() - started
            time.sleep(1)
        return None
    finally:
        db.dispose()


def run(root: Path, base: Settings, sizes: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Every dial-out scenario asked for; audio downloads at 1,000 clusters."""
    runs = []
    limit = raise_file_limit()
    if max(sum(sizes.values(), [0])) + 1000 > limit:
        print(f"dial-out: open-file limit {limit} is too low for these sizes", file=sys.stderr, flush=True)
    for transport, counts in sizes.items():
        for clusters in counts:
            print(f"dial-out: {transport} to {clusters} clusters…", file=sys.stderr, flush=True)
            load_before = os.getloadavg()
            runs.append(scenario(root, base, transport, clusters, download=clusters <= 1000))
            runs[-1]["load_average"] = {"before": [round(x, 2) for x in load_before],
                                        "after": [round(x, 2) for x in os.getloadavg()]}
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
    return runs
