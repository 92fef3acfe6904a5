"""Province benchmark: 100 communes x 10 clusters; 2 replicas on PostgreSQL beside 1 replica on SQLite.

Run: .venv/bin/python bench/province.py [--seconds 60] [--clients 50] [--rate 100] [--parts ...] [--merge]
(writes bench/results/province.json; ``--merge`` keeps the figures of the parts not run; hold the
quiet lock, see docs/province.md "Scale").

1. Submissions: ``clients`` officers (one per commune) create a bulletin and submit it, for
   ``seconds``, on two ``broadcaster serve`` replicas sharing one PostgreSQL (officers alternate
   replicas, as a load balancer would) and on one replica on SQLite. Twice:
   - paced: the officers offer ``rate`` requests/s in all (each one a create + submit every
     ``2 * clients / rate`` s), latency counted from when each create was due;
   - saturated: closed loops, as fast as the servers answer (the most this machine does; with 50
     clients in closed loops the latency is 50 / throughput by Little's law, whatever the code).
   The client speaks HTTP through ``bench.lean_client`` (cheap on the shared CPU); the CPU seconds
   of client, servers, PostgreSQL and the whole machine are reported beside each run.
2. A province-wide emergency to 1,000 clusters, the way issue 11 asks: the province officer writes
   one emergency for every commune (``POST /api/v1/province-bulletins``, untimed) and the province
   approver approves it once (``…/approve``). Timed: from that call until its answer, which comes
   once every commune's airing is accepted (committed with the approval) and every one of the
   1,000 orders is signed and stored in the outbox and queued (checked: the outbox is counted at
   the answer). Its text is new, so the speech is rendered cold inside the call. Before it, each
   replica approves an untimed province emergency to one commune (the server has been up: its
   speech and audio code are loaded). No agent is connected: sending over the wire is measured by
   bench/fanout.py --dialout.
   ``--parts commune-emergencies`` (not run by default): the earlier stand-in, 100 separate commune
   emergencies approved concurrently by the communes' approvers across both replicas.
3. The morning session of all 100 communes, cold and warm cache (``bench.province_morning``):
   composition (speech, levelling, programme, cache) and hand-off of 1,000 orders, through
   ``ProgrammingService.run_session`` as the leader's scheduler runs it, after the servers stop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api import TEXTS, percentiles  # noqa: E402
from bench.cpu_meter import CpuMeter  # noqa: E402
from bench.fanout import free_port  # noqa: E402
from bench.lean_client import LeanConnection  # noqa: E402
from bench.province_morning import morning  # noqa: E402
from bench.results_file import RESULTS_DIR, write_results  # noqa: E402
from broadcaster.config import PROJECT_ROOT, Settings  # noqa: E402
from broadcaster.db import Database  # noqa: E402
from broadcaster.models import Cluster, Commune, DeliveryOrder, Role, User  # noqa: E402
from broadcaster.services import auth  # noqa: E402
from tests.fakes.serve_process import start_serve_process  # noqa: E402

COMMUNES = 100
CLUSTERS = 10
EMERGENCY = "Khẩn cấp: bão số 9 đổ bộ trong đêm nay, bà con ở vùng trũng di dời ngay tới nơi an toàn."
PROVINCE_EMERGENCY = ("Ban chỉ huy phòng chống thiên tai tỉnh khẩn cấp thông báo: lũ trên các sông đang lên nhanh, "
                      "bà con ven sông và vùng trũng di dời ngay người và tài sản tới nơi an toàn.")
PROVINCE: dict[str, str] = {}  # the province officer's and approver's tokens, by role


def seed(settings: Settings) -> list[dict[str, Any]]:
    """100 communes with 10 pull clusters, an officer and an approver each (tokens, no passwords)."""
    db = Database(settings.effective_database_url)
    db.upgrade()
    communes: list[dict[str, Any]] = []
    with db.session() as s:
        for number in range(1, COMMUNES + 1):
            commune = Commune(code=f"xa-{number:03d}", name=f"Xã số {number}")
            s.add(commune)
            s.flush()
            s.add_all(Cluster(commune_id=commune.id, name=f"Cụm {i + 1}", transport="pull", agent_url="")
                      for i in range(CLUSTERS))
            officer = User(username=f"canbo-{number}", role=Role.OFFICER, commune_id=commune.id, password_hash="x")
            approver = User(username=f"lanhdao-{number}", role=Role.APPROVER, commune_id=commune.id,
                            password_hash="x")
            s.add_all([officer, approver])
            s.flush()
            communes.append({"id": commune.id,
                             "officer": auth.issue_token(s, officer, ttl=timedelta(days=1)).token,
                             "approver": auth.issue_token(s, approver, ttl=timedelta(days=1)).token})
        # The province's own accounts (no commune): one writes, another approves (four eyes).
        for role in (Role.OFFICER, Role.APPROVER):
            user = User(username=f"tinh-{role}", role=role, commune_id=None, password_hash="x")
            s.add(user)
            s.flush()
            PROVINCE[str(role)] = auth.issue_token(s, user, ttl=timedelta(days=1)).token
    db.dispose()
    return communes


async def submissions(urls: list[str], communes: list[dict[str, Any]], clients: int, seconds: float,
                      trees: dict[str, list[int]], rate: float | None = None) -> dict[str, Any]:
    """``clients`` officers creating and submitting bulletins for ``seconds``, each on its own keep-alive connection.

    ``rate`` (requests/s in all): each officer starts a create + submit every ``2 * clients / rate``
    seconds, and a create's latency counts from when it was due (a slow server cannot hide its
    backlog by slowing the clients down). None: closed loops, as fast as the servers answer.
    """
    created: list[float] = []
    submitted: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(timeout=60) as client:
        for url in urls:  # untimed: each server imports the text pipeline on its first bulletin
            headers = {"Authorization": f"Bearer {communes[0]['officer']}"}
            await client.post(f"{url}/api/v1/bulletins", headers=headers, json={"title": "Khởi động", "text": TEXTS[0]})
    period = 2 * clients / rate if rate else 0.0
    start = time.perf_counter() + 0.1
    stop_at = start + seconds

    async def officer(index: int) -> None:
        host, port = urls[index % len(urls)].removeprefix("http://").split(":")
        connection = LeanConnection(host, int(port))
        headers = {"Authorization": f"Bearer {communes[index % len(communes)]['officer']}"}
        number = 0
        due = start + period * index / clients  # officers spread over one period
        while due < stop_at:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            number += 1
            body = {"title": f"Bản tin {index}-{number}", "text": TEXTS[number % len(TEXTS)], "repeat": 2}
            try:
                began = due if period else time.perf_counter()
                answer = await connection.post("/api/v1/bulletins", headers=headers, json_body=body)
                created.append(time.perf_counter() - began)
                if answer.status_code != 201:
                    errors.append(f"create {answer.status_code} {answer.text[:100]}")
                    continue
                began = time.perf_counter()
                answer = await connection.post(f"/api/v1/bulletins/{answer.json()['id']}/submit", headers=headers)
                submitted.append(time.perf_counter() - began)
                if answer.status_code != 200:
                    errors.append(f"submit {answer.status_code} {answer.text[:100]}")
            except (OSError, asyncio.IncompleteReadError) as error:  # counted, not fatal: a connection dropped
                errors.append(f"transport {type(error).__name__}")
            finally:
                due = due + period if period else time.perf_counter()
        await connection.close()

    cpu = CpuMeter(trees)
    began = time.perf_counter()
    await asyncio.gather(*(officer(i) for i in range(clients)))
    elapsed = time.perf_counter() - began
    return {"replicas": len(urls), "clients": clients, "offered_requests_per_s": rate, "seconds": round(elapsed, 1),
            "submissions": len(submitted), "submissions_per_s": round(len(submitted) / elapsed, 1),
            "requests_per_s": round((len(created) + len(submitted)) / elapsed, 1),
            "create_latency": percentiles(created), "submit_latency": percentiles(submitted),
            "error_count": len(errors), "errors": errors[:5], "cpu_s": cpu.read()}


async def commune_emergencies(urls: list[str], communes: list[dict[str, Any]], db: Database) -> dict[str, Any]:
    """The earlier stand-in: one emergency per commune, written and submitted untimed, then approved all at once."""
    async with httpx.AsyncClient(timeout=120) as client:
        bulletins = []
        for index, commune in enumerate(communes):
            url, headers = urls[index % len(urls)], {"Authorization": f"Bearer {commune['officer']}"}
            answer = await client.post(f"{url}/api/v1/bulletins", headers=headers,
                                       json={"title": "Khẩn: bão", "priority": "emergency", "text": EMERGENCY})
            assert answer.status_code == 201, answer.text
            assert (await client.post(f"{url}/api/v1/bulletins/{answer.json()['id']}/submit",
                                      headers=headers)).status_code == 200
            bulletins.append(answer.json()["id"])
        with db.session() as s:
            before = s.scalar(select(func.count()).select_from(DeliveryOrder)) or 0
        calls: list[float] = []

        async def approve(index: int) -> int:
            url = urls[index % len(urls)]
            headers = {"Authorization": f"Bearer {communes[index]['approver']}"}
            began = time.perf_counter()
            try:
                answer = await client.post(f"{url}/api/v1/bulletins/{bulletins[index]}/approve", headers=headers)
            except httpx.TransportError:  # no answer within the client's timeout: counted, as a 0
                return 0
            finally:
                calls.append(time.perf_counter() - began)
            return answer.status_code

        began = time.perf_counter()
        statuses = await asyncio.gather(*(approve(i) for i in range(len(communes))))
        answered = time.perf_counter() - began
        target = before + COMMUNES * CLUSTERS
        while True:
            with db.session() as s:
                stored = s.scalar(select(func.count()).select_from(DeliveryOrder)) or 0
            if stored >= target or time.perf_counter() - began > 120:
                break
            await asyncio.sleep(0.02)
        handed_off = time.perf_counter() - began
    return {"what": "100 separate commune emergencies approved concurrently (not the province path)",
            "clusters": COMMUNES * CLUSTERS, "emergencies": len(communes), "replicas": len(urls),
            "orders_stored": stored - before, "all_approvals_answered_s": round(answered, 2),
            "handed_off_to_all_s": round(handed_off, 2), "approve_call_latency": percentiles(calls),
            "non_200": [s for s in statuses if s != 200][:5]}


def orders_stored(db: Database) -> int:
    """Signed orders in the outbox (every replica's)."""
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(DeliveryOrder)) or 0


async def province_emergency(urls: list[str], communes: list[dict[str, Any]], db: Database,
                             trees: dict[str, list[int]]) -> dict[str, Any]:
    """One province emergency to every commune, approved once by the province approver; timed to its answer."""
    officer = {"Authorization": f"Bearer {PROVINCE[str(Role.OFFICER)]}"}
    approver = {"Authorization": f"Bearer {PROVINCE[str(Role.APPROVER)]}"}
    async with httpx.AsyncClient(timeout=120) as client:

        async def write(url: str, text: str, commune_ids: list[int]) -> int:
            answer = await client.post(f"{url}/api/v1/province-bulletins", headers=officer, json={
                "title": "Khẩn cấp: lũ", "text": text, "priority": "emergency", "commune_ids": commune_ids})
            assert answer.status_code == 201, answer.text
            return int(answer.json()["id"])

        for number, url in enumerate(urls):  # untimed: each replica has put an emergency on the air before
            warm = await write(url, f"Tin thử số {number + 1}: {EMERGENCY}", [communes[number]["id"]])
            answer = await client.post(f"{url}/api/v1/province-bulletins/{warm}/approve", headers=approver)
            assert answer.status_code == 200, answer.text
        bulletin = await write(urls[-1], PROVINCE_EMERGENCY, [])  # no commune named: every commune
        before = orders_stored(db)
        cpu = CpuMeter(trees)
        began = time.perf_counter()
        answer = await client.post(f"{urls[0]}/api/v1/province-bulletins/{bulletin}/approve", headers=approver)
        answered = time.perf_counter() - began
        cpu_s = cpu.read()
        at_answer = orders_stored(db) - before
    return {"what": "one province bulletin, priority emergency, to all 100 communes; approved once",
            "clusters": COMMUNES * CLUSTERS, "communes": len(communes), "replicas": len(urls),
            "status": answer.status_code, "answer": answer.json().get("status", answer.text[:200]),
            "orders_stored_at_answer": at_answer, "handed_off_to_all_s": round(answered, 2), "cpu_s": cpu_s}


def run_setup(root: Path, database_url: str, replicas: int, args: argparse.Namespace,
              postgres_pid: int | None) -> dict[str, Any]:
    """Seed, start ``replicas`` servers on one database, measure; stop them, then the morning sessions."""
    settings = Settings(data_dir=root / "data", cache_dir=root / "cache", schedules_dir=PROJECT_ROOT / "schedules",
                        database_url=database_url, run_scheduler=False, engines=["espeak"])
    communes = seed(settings)
    ports = [free_port() for _ in range(replicas)]
    env = {"BROADCASTER_HANDOFF": "deliver", "BROADCASTER_PUBLIC_URL": f"http://127.0.0.1:{ports[0]}",
           "BROADCASTER_ENGINES": '["espeak"]'}  # no Piper voice is installed here: do not try it first each time
    servers = [start_serve_process(settings, port, env=env) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    database = {"postgres": [postgres_pid]} if postgres_pid else {}
    result: dict[str, Any] = {}
    try:
        trees = {"servers": [server.pid for server in servers], **database}
        if "submissions" in args.parts:
            result["submissions_paced"] = asyncio.run(submissions(urls, communes, args.clients, args.seconds, trees,
                                                                  rate=args.rate))
            result["submissions_saturated"] = asyncio.run(submissions(urls, communes, args.clients, args.seconds,
                                                                      trees))
        db = Database(database_url)
        if "emergency" in args.parts:
            result["emergency"] = asyncio.run(province_emergency(urls, communes, db, trees))
            result["emergency"]["uptime"] = uptime()
        if "commune-emergencies" in args.parts:
            result["commune_emergencies"] = asyncio.run(commune_emergencies(urls, communes, db))
        db.dispose()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    if "morning" in args.parts:
        result["morning"] = morning(settings, database)
    return result


def uptime() -> str:
    """What ``uptime`` prints (the load averages of the moment)."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def previous_results() -> dict[str, Any]:
    """The results last written, to keep the figures of the parts not run now."""
    path = RESULTS_DIR / "province.json"
    return dict(json.loads(path.read_text(encoding="utf-8"))["results"]) if path.is_file() else {}


def main() -> None:
    """Run both setups and write bench/results/province.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s offered in the paced run")
    parts = ["submissions", "emergency", "commune-emergencies", "morning"]
    parser.add_argument("--parts", nargs="*", default=["submissions", "emergency", "morning"], choices=parts)
    parser.add_argument("--sqlite-parts", nargs="*", default=["submissions", "emergency"], choices=parts)
    parser.add_argument("--merge", action="store_true",
                        help="keep the figures in bench/results/province.json of the parts and setups not run")
    parser.add_argument("--setups", nargs="*", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    parser.add_argument("--note", default="", help="how this run was made (lock held, nice, load)")
    args = parser.parse_args()
    from tests.databases import PostgresServer

    load_before = os.getloadavg()
    uptime_before = uptime()
    results: dict[str, Any] = previous_results() if args.merge else {}
    results.update({"communes": COMMUNES, "clusters_per_commune": CLUSTERS, "note": args.note})
    if "submissions" in args.parts:
        results.update({"clients": args.clients, "seconds": args.seconds, "paced_rate": args.rate})
    if "postgresql" in args.setups:
        postgres = PostgresServer().start()
        try:
            postgres.execute("CREATE DATABASE province")
            postmaster = int((postgres.data_dir / "postmaster.pid").read_text().split()[0])
            with tempfile.TemporaryDirectory(prefix="bench-province-pg-") as scratch:
                measured = run_setup(Path(scratch), postgres.url("province"), 2, args, postmaster)
                results["postgresql_2_replicas"] = {**results.get("postgresql_2_replicas", {}), **measured}
                write_results("province", results)  # kept if the next setup fails
        finally:
            postgres.stop()
    if "sqlite" in args.setups:
        with tempfile.TemporaryDirectory(prefix="bench-province-sqlite-") as scratch:
            url = f"sqlite:///{Path(scratch) / 'data' / 'broadcaster.sqlite3'}"
            (Path(scratch) / "data").mkdir()
            args.parts = args.sqlite_parts
            measured = run_setup(Path(scratch), url, 1, args, None)
            results["sqlite_1_replica"] = {**results.get("sqlite_1_replica", {}), **measured}
    results["targets"] = {"submit_p99_ms": 100, "submit_rate_per_s": 100, "emergency_handoff_s": 3.0,
                          "warm_morning_s": 30.0}
    results["load_average_before"] = load_before
    results["load_average_after"] = os.getloadavg()
    results["uptime_at_start_and_end"] = [uptime_before, uptime()]
    write_results("province", results)


if __name__ == "__main__":
    main()
