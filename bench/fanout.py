"""Fan-out benchmark: one ~1 MB programme delivered to 200 and to 1,000 clusters, beside raw downloads.

Run: .venv/bin/python bench/fanout.py   (a few minutes; writes bench/results/fanout.json)
     .venv/bin/python bench/fanout.py --dialout   (agents that dial out: mqtt to 1,000 and 10,000
     clusters through a real Mosquitto, pull to 1,000; bench/fanout_dialout.py; merged into
     bench/results/fanout.json under "dialout"; --mqtt-sizes/--pull-sizes split the runs)

The push runs below use the ``http`` transport (a LAN installation).

For each size, a fresh ``broadcaster serve`` (SQLite, delivery on) airs an emergency of about two
minutes (~1 MB MP3) to a commune of N clusters. The clusters are simulated by one process with N
virtual agent endpoints (``/c/<id>/orders``): each verifies the Ed25519 order for its cluster,
downloads the audio over HTTP with a pool of 100 connections, checks its sha256, and "starts" at
play_at (an asyncio timer). Measured: the emergency API call (render cache-hit + N hand-offs), the
time until every order was received and until every agent was ready, the server's peak RSS, and
the start offsets (p50/p99; all virtual agents share one event loop, so this spread is that loop's,
not what N real boxes achieve). Baselines, side by side: the same N downloads of the same bytes,
by the same client, from a raw in-memory HTTP server, and from the server's /audio endpoint alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
import yaml  # noqa: E402

from bench.results_file import write_results  # noqa: E402
from broadcaster.cli.demo import SAMPLE_BULLETIN  # noqa: E402
from broadcaster.config import Settings, load_settings  # noqa: E402
from broadcaster.db import Database  # noqa: E402
from broadcaster.delivery.keys import load_or_create_signing_key, load_public_key, public_key_base64  # noqa: E402
from broadcaster.delivery.orders import LOCAL_ZONE, OrderRejected, OrderVerifier  # noqa: E402
from broadcaster.models import Cluster, Commune, Role  # noqa: E402
from broadcaster.services.users import create_user  # noqa: E402
from broadcaster.speech import ProgrammePiece, SpeechService  # noqa: E402

SIZES = (200, 1000)
REPEAT = 4  # the sample bulletin read four times: about two minutes, about 1 MB at 64 kb/s
DOWNLOAD_CONNECTIONS = 100
PASSWORD = "mat-khau-do-tai-2026"
SCRIPT = str(Path(__file__).resolve())


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def free_port() -> int:
    """A port nobody listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the simulated clusters (one process, N endpoints) ------------------------------------------


def agents_app(public_key: str) -> Any:
    """An ASGI app with one order endpoint per virtual cluster, plus /results and /baseline."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    verifier = OrderVerifier([load_public_key(public_key)])
    state: dict[str, Any] = {"clusters": {}, "client": None, "retries": 0}

    def client() -> httpx.AsyncClient:
        if state["client"] is None:
            limits = httpx.Limits(max_connections=DOWNLOAD_CONNECTIONS, max_keepalive_connections=DOWNLOAD_CONNECTIONS)
            state["client"] = httpx.AsyncClient(timeout=120, limits=limits)
        return state["client"]

    async def fetch(url: str, sha256: str) -> bool:
        # Like a real agent: a dropped connection (a keep-alive closed under load) is retried.
        for attempt in range(5):
            try:
                async with client().stream("GET", url) as response:
                    digest = hashlib.sha256()
                    async for chunk in response.aiter_raw():
                        digest.update(chunk)
                return response.status_code == 200 and digest.hexdigest() == sha256
            except httpx.HTTPError:
                state["retries"] += 1
                await asyncio.sleep(0.2 * (attempt + 1))
        return False

    async def carry_out(cluster: str, order: Any, record: dict[str, Any]) -> None:
        record["ok"] = await fetch(order.audio_url, order.audio_sha256)
        record["ready_at"] = time.time()
        await asyncio.sleep(max(0.0, order.play_at.timestamp() - time.time()))
        record["started_at"] = time.time()

    async def orders(request: Request) -> JSONResponse:
        received = time.time()
        cluster = request.path_params["cluster"]
        try:
            order = verifier.verify(await request.body(), cluster_id=cluster, now=datetime.now(LOCAL_ZONE))
        except OrderRejected as error:
            return JSONResponse({"code": error.code, "message": error.message}, status_code=error.status)
        if cluster in state["clusters"]:
            return JSONResponse({"code": "order_replayed", "duplicate": True}, status_code=409)
        record = state["clusters"][cluster] = {"received_at": received, "play_at": order.play_at.timestamp()}
        asyncio.get_running_loop().create_task(carry_out(cluster, order, record))
        return JSONResponse({"status": "accepted"}, status_code=202)

    async def results(_request: Request) -> JSONResponse:
        return JSONResponse({"clusters": state["clusters"], "download_retries": state["retries"]})

    async def baseline(request: Request) -> JSONResponse:
        spec = await request.json()
        started = time.time()
        outcomes = await asyncio.gather(*(fetch(spec["url"], spec["sha256"]) for _ in range(spec["n"])))
        return JSONResponse({"seconds": time.time() - started, "ok": sum(outcomes)})

    return Starlette(routes=[Route("/c/{cluster}/orders", orders, methods=["POST"]),
                             Route("/results", results), Route("/baseline", baseline, methods=["POST"])])


def raw_app(path: Path) -> Any:
    """The baseline server: the bytes from memory, no framework, no checks."""
    data = path.read_bytes()
    headers = [(b"content-type", b"audio/mpeg"), (b"content-length", str(len(data)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    return app


def serve(app: Any, port: int) -> None:
    """Serve an ASGI app until killed."""
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=4096)


# --- one scenario --------------------------------------------------------------------------------


def spawn(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """A child process of this benchmark, logging to ``log``."""
    with log.open("ab") as handle:
        return subprocess.Popen([sys.executable, *args], stdout=handle, stderr=subprocess.STDOUT,
                                env={k: v for k, v in os.environ.items() if not k.startswith("BROADCASTER_")})


def wait_http(url: str, process: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    """Wait until ``url`` answers (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


def seed(settings: Settings, clusters: int, agents_port: int) -> int:
    """A commune with ``clusters`` clusters pointing at the virtual agents, and an approver."""
    db = Database(settings.effective_database_url)
    db.upgrade()
    with db.session() as s:
        commune = Commune(code="xa-do-tai", name="Xã đo tải")
        s.add(commune)
        s.flush()
        s.add_all([Cluster(commune_id=commune.id, name=f"Cụm {i}", transport="http",
                           agent_url=f"http://127.0.0.1:{agents_port}/c/{i}") for i in range(1, clusters + 1)])
        commune_id = commune.id
    with db.session() as s:
        create_user(s, None, username="lanhdao", password=PASSWORD, role=Role.APPROVER, commune_id=commune_id)
    db.dispose()
    return commune_id


def scenario(root: Path, base: Settings, clusters: int, programme: Any, raw_url: str, delay_s: float) -> dict[str, Any]:
    """Deliver the programme to ``clusters`` virtual clusters through a fresh server; the measurements."""
    work = root / f"n{clusters}"
    work.mkdir()
    server_port, agents_port = free_port(), free_port()
    settings = base.model_copy(update={
        "data_dir": work / "data", "database_url": None, "public_url": f"http://127.0.0.1:{server_port}",
        "handoff": "deliver", "run_scheduler": False, "prompt_delay_s": delay_s, "audio_base_url": None,
        "misfire_grace_s": 600.0})
    seed(settings, clusters, agents_port)
    key = public_key_base64(load_or_create_signing_key(settings.data_dir).public_key())
    config = work / "server.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    agents = spawn(SCRIPT, "--agents", "--port", str(agents_port), "--public-key", key, log=work / "agents.log")
    server = spawn("-c", "import sys; from broadcaster.cli import main; sys.exit(main(sys.argv[1:]))", "serve",
                   "--config", str(config), "--port", str(server_port), "--log-level", "warning",
                   log=work / "server.log")
    try:
        wait_http(f"http://127.0.0.1:{agents_port}/results", agents, "the virtual agents")
        wait_http(f"http://127.0.0.1:{server_port}/health", server, "the server")
        url = f"http://127.0.0.1:{server_port}"
        token = httpx.post(f"{url}/api/v1/auth/token", json={"username": "lanhdao", "password": PASSWORD},
                           timeout=30).json()["access_token"]
        started = time.time()
        answer = httpx.post(f"{url}/api/v1/emergencies", headers={"Authorization": f"Bearer {token}"}, timeout=900,
                            json={"title": "Đo tải", "text": SAMPLE_BULLETIN, "repeat": REPEAT})
        api_s = time.time() - started
        answer.raise_for_status()
        airing = answer.json()["airing"]
        assert airing["audio_sha256"] == programme.sha256, "the server rendered another programme"

        def results() -> dict[str, Any]:
            return dict(httpx.get(f"http://127.0.0.1:{agents_port}/results", timeout=30).json()["clusters"])

        deadline = time.time() + delay_s + 60
        records = results()
        while time.time() < deadline:
            records = results()
            if len(records) == clusters and all("started_at" in r for r in records.values()):
                break
            time.sleep(0.25)
        rss = peak_rss_mb(server.pid)
        ready = [r["ready_at"] - started for r in records.values() if r.get("ok")]
        received = [r["received_at"] - started for r in records.values()]
        offsets = [(r["started_at"] - r["play_at"]) * 1000 for r in records.values() if "started_at" in r]

        def download_baseline(source: str) -> dict[str, Any]:
            return dict(httpx.post(f"http://127.0.0.1:{agents_port}/baseline", timeout=600,
                                   json={"url": source, "sha256": programme.sha256, "n": clusters}).json())

        retries = httpx.get(f"http://127.0.0.1:{agents_port}/results", timeout=30).json()["download_retries"]
        raw = download_baseline(raw_url)
        endpoint = download_baseline(f"{url}/audio/{programme.sha256}.mp3")
        all_ready = max(ready) if len(ready) == clusters else float("nan")
        return {
            "clusters": clusters,
            "orders_received": len(received),
            "agents_ready_and_verified": sum(1 for r in records.values() if r.get("ok")),
            "download_retries": retries,
            "emergency_api_call_s": round(api_s, 2),
            "all_orders_received_s": round(max(received), 2) if received else None,
            "all_ready_s": round(all_ready, 2),
            "ready_p50_s": round(percentile(ready, 0.5), 2),
            "ready_before_play_at": sum(1 for r in records.values() if r.get("ready_at", 1e18) <= r["play_at"]),
            "server_peak_rss_mb": round(rss, 1),
            "start_offset_ms": {"p50": round(percentile(offsets, 0.5), 2), "p99": round(percentile(offsets, 0.99), 2),
                                "min": round(min(offsets), 2), "max": round(max(offsets), 2),
                                "spread": round(max(offsets) - min(offsets), 2)} if offsets else None,
            "baseline_raw_download_s": round(raw["seconds"], 2),
            "baseline_audio_endpoint_only_s": round(endpoint["seconds"], 2),
            "all_ready_vs_raw_baseline": round(all_ready / raw["seconds"], 2),
        }
    finally:
        for process in (server, agents):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def handoff_cost(root: Path, base: Settings, programme: Any, clusters: int = 1000) -> dict[str, float]:
    """Milliseconds per order to hand off one by one (one commit each) and in batches (``hand_off_many``)."""
    from datetime import timedelta

    from broadcaster.models import Airing, AiringKind, Priority
    from broadcaster.services.delivery import DeliveryService
    from broadcaster.services.handoff import ClusterProgramme

    settings = base.model_copy(update={"data_dir": root / "handoff", "database_url": None,
                                       "delivery_retry_initial_s": 600.0, "delivery_retry_max_s": 600.0})
    commune_id = seed(settings, clusters, free_port())  # nobody listens there: each lane fails once, then waits
    db = Database(settings.effective_database_url)
    service = DeliveryService(settings, db, SpeechService(settings).cache)
    service.start()
    try:
        with db.session() as s:
            airings = [Airing(commune_id=commune_id, kind=AiringKind.EMERGENCY, session_name=f"do-{i}",
                              starts_at=datetime.now(LOCAL_ZONE)) for i in range(2)]
            s.add_all(airings)
            s.flush()
            airing_ids = [a.id for a in airings]
        play_at = datetime.now(LOCAL_ZONE) + timedelta(minutes=5)

        def programmes(airing_id: int, count: int) -> list[ClusterProgramme]:
            return [ClusterProgramme(airing_id, cluster_id, programme, play_at, play_at + timedelta(minutes=30),
                                     Priority.EMERGENCY) for cluster_id in range(1, count + 1)]

        one_by_one = programmes(airing_ids[0], 200)
        started = time.perf_counter()
        for item in one_by_one:
            service.hand_off(item)
        single_ms = (time.perf_counter() - started) / len(one_by_one) * 1000
        started = time.perf_counter()
        service.hand_off_many(programmes(airing_ids[1], clusters))
        batched_ms = (time.perf_counter() - started) / clusters * 1000
    finally:
        service.close()
        db.dispose()
    return {"one_by_one_ms_per_order": round(single_ms, 2), "hand_off_many_ms_per_order": round(batched_ms, 2)}


def main() -> None:
    """Run both sizes and write bench/results/fanout.json."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", action="store_true")
    parser.add_argument("--raw-server", type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--public-key")
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--dialout", action="store_true", help="the mqtt and pull fan-outs instead")
    parser.add_argument("--mqtt-sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--pull-sizes", type=int, nargs="*", default=[1000])
    args = parser.parse_args()
    if args.agents:
        return serve(agents_app(args.public_key), args.port)
    if args.raw_server:
        return serve(raw_app(args.raw_server), args.port)
    if args.dialout:
        return dialout(args.mqtt_sizes, args.pull_sizes)

    root = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    base = load_settings().model_copy(update={"cache_dir": root / "cache"})
    started = time.time()
    speech = SpeechService(base)
    programme = speech.render_programme([ProgrammePiece(text=SAMPLE_BULLETIN, repeat=REPEAT)], chime=True)
    render_s = time.time() - started
    raw_port = free_port()
    raw = spawn(SCRIPT, "--raw-server", str(programme.path), "--port", str(raw_port), log=root / "raw.log")
    try:
        wait_http(f"http://127.0.0.1:{raw_port}/", raw, "the raw server")
        runs = [scenario(root, base, n, programme, f"http://127.0.0.1:{raw_port}/", delay_s=20 + n * 0.04)
                for n in args.sizes]
    finally:
        raw.terminate()
        raw.wait(timeout=30)
    handoff = handoff_cost(root, base, programme)
    write_results("fanout", {
        "programme": {"bytes": programme.size, "duration_s": round(programme.duration_s, 1),
                      "render_cold_s": round(render_s, 1)},
        "download_connections": DOWNLOAD_CONNECTIONS,
        "notes": "one server process (SQLite WAL, delivery_concurrency 64) and one process of virtual agents "
                 "on the same 2 cores; start offsets come from one shared asyncio loop of virtual agents",
        "runs": runs,
        "handoff_cost_1000_clusters": handoff,
    })


def dialout(mqtt_sizes: list[int], pull_sizes: list[int]) -> None:
    """The dial-out fan-outs (bench/fanout_dialout.py), merged into bench/results/fanout.json under "dialout".

    Runs are keyed by transport and size, so the sizes can be measured in separate, shorter runs.
    """
    import json

    from bench import fanout_dialout
    from bench.results_file import RESULTS_DIR

    root = Path(tempfile.mkdtemp(prefix="bench-dialout-"))
    base = load_settings().model_copy(update={"cache_dir": root / "cache"})
    programme = SpeechService(base).render_programme([ProgrammePiece(text=SAMPLE_BULLETIN, repeat=REPEAT)], chime=True)
    runs = fanout_dialout.run(root, base, {"mqtt": mqtt_sizes, "pull": pull_sizes})
    path = RESULTS_DIR / "fanout.json"
    results = json.loads(path.read_text(encoding="utf-8"))["results"] if path.exists() else {}
    earlier = {(r["transport"], r["clusters"]): r for r in results.get("dialout", {}).get("runs", [])}
    earlier |= {(r["transport"], r["clusters"]): r for r in runs}
    results["dialout"] = {
        "programme": {"bytes": programme.size, "duration_s": round(programme.duration_s, 1)},
        "notes": "one broadcaster serve (SQLite WAL, delivery_concurrency 256), Mosquitto 2.0.11, and "
                 f"{fanout_dialout.SIM_PROCESSES} processes of simulated agents (real MQTT clients with their own "
                 "credentials, or real signed long-polls), all on the same 2 cores; audio downloads at 1,000 "
                 "clusters; load_average is os.getloadavg() before and after each run (other engineers' work)",
        "targets": {"mqtt_10000_all_received_after_api_return_s": 10, "server_peak_rss_mb": 400,
                    "pull_1000_connected_rss_cost_mb": 200,
                    # issue 11: the API call answers once every order is signed and in the outbox
                    "emergency_1000_api_call_to_all_handed_off_s": 3},
        "runs": sorted(earlier.values(), key=lambda r: (r["transport"], r["clusters"])),
    }
    write_results("fanout", results)

if __name__ == "__main__":
    main()
