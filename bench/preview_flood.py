"""Emergency latency while one officer floods the server with previews (issue 10, item 3).

Run: .venv/bin/python bench/preview_flood.py [--previews 45]   (writes bench/results/preview_flood.json)

A real `broadcaster serve` (uvicorn, scheduler off, hand-off recorded) on a scratch SQLite
database. Commune A's officers own ``--previews`` draft bulletins of about two minutes of speech
each (all different, so nothing is cached) and ask for all their previews at once: one officer
(the attack the review found), then the same number spread over as many officers (a busy
province). Two seconds in, commune B's approver sends an emergency; /health is polled every half
second throughout. An emergency (after an untimed first one that warms the speech service up)
and /health are timed on the idle server first. Every emergency has its own text: none is cached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import write_results  # noqa: E402
from broadcaster.config import PROJECT_ROOT, Settings  # noqa: E402
from broadcaster.db import Database  # noqa: E402
from broadcaster.models import Role  # noqa: E402
from broadcaster.services import auth, registry, users  # noqa: E402
from tests.fakes.serve_process import start_serve_process  # noqa: E402

PASSWORD = "mat-khau-benchmark"
SENTENCE = ("Ngày {n}/12/2026, xã tổ chức tiêm phòng đợt {n} cho đàn gia súc tại nhà văn hóa thôn, "
            "bà con mang theo sổ theo dõi và đến đúng giờ. ")
EMERGENCY = "Nước lũ lên nhanh ở suối Nậm Mu, bà con thôn Bản Lướt sơ tán ngay. Lần báo số {n}."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(settings: Settings, officers: int) -> dict[str, Any]:
    """Commune A with officers, commune B with an approver and three clusters; their tokens."""
    db = Database(settings.effective_database_url)
    db.upgrade()
    with db.session() as session:
        province = users.create_user(session, None, username="tinh", password=PASSWORD, role=Role.ADMIN,
                                     commune_id=None)
        tokens: dict[str, Any] = {"officers": []}
        for key, role, count in (("a", Role.OFFICER, officers), ("b", Role.APPROVER, 1)):
            commune = registry.create_commune(session, province, code=f"xa-{key}", name=f"Xã {key.upper()}",
                                              schedules_dir=settings.schedules_dir)
            for index in range(3):
                registry.create_cluster(session, province, commune.id, registry.ClusterFields(name=f"Cụm {index}"))
            for index in range(count):
                user = users.create_user(session, None, username=f"{role.value}-{key}-{index}", password=PASSWORD,
                                         role=role, commune_id=commune.id)
                token = auth.issue_token(session, user, ttl=timedelta(days=1)).token
                if role == Role.OFFICER:
                    tokens["officers"].append(token)
                else:
                    tokens["approver"] = token
    db.dispose()
    return tokens


async def timed(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> tuple[float, int]:
    """Seconds and status of one request."""
    started = time.perf_counter()
    response = await client.request(method, url, **kwargs)
    return time.perf_counter() - started, response.status_code


def _emergency(n: int) -> dict[str, str]:
    return {"title": f"Khẩn: lũ quét ({n})", "text": EMERGENCY.format(n=n)}


async def flood(base_url: str, tokens: dict[str, Any], previews: int, officers: int, round_: int) -> dict[str, Any]:
    """Idle timings, then the flood (by ``officers`` officers) with an emergency and /health polls inside it."""
    approver = {"Authorization": f"Bearer {tokens['approver']}"}
    limits = httpx.Limits(max_connections=previews + 20, max_keepalive_connections=previews + 20)
    async with httpx.AsyncClient(base_url=base_url, timeout=900, limits=limits) as client:
        idle_health = [(await timed(client, "GET", "/health"))[0] for _ in range(5)]
        await timed(client, "POST", "/api/v1/emergencies", json=_emergency(round_ * 10), headers=approver)
        idle_emergency, status = await timed(client, "POST", "/api/v1/emergencies", json=_emergency(round_ * 10 + 1),
                                             headers=approver)
        assert status == 201, status
        ids = []
        for index in range(previews):
            officer = {"Authorization": f"Bearer {tokens['officers'][index % officers]}"}
            text = "".join(SENTENCE.format(n=round_ * 10000 + index * 100 + k) for k in range(12))
            response = await client.post("/api/v1/bulletins", json={"title": f"Tin {index}", "text": text},
                                         headers=officer)
            ids.append((response.json()["id"], officer))
        began = time.perf_counter()
        results: list[tuple[float, int]] = []

        async def preview(bulletin_id: int, officer: dict[str, str]) -> None:
            results.append(await timed(client, "GET", f"/api/v1/bulletins/{bulletin_id}/preview", headers=officer))

        storm = [asyncio.create_task(preview(i, officer)) for i, officer in ids]
        health: list[float] = []

        async def poll() -> None:
            while not all(task.done() for task in storm):
                health.append((await timed(client, "GET", "/health"))[0])
                await asyncio.sleep(0.5)

        poller = asyncio.create_task(poll())
        await asyncio.sleep(2.0)
        loaded_emergency, status = await timed(client, "POST", "/api/v1/emergencies",
                                               json=_emergency(round_ * 10 + 2), headers=approver)
        assert status == 201, status
        await asyncio.gather(*storm)
        await poller
        statuses = Counter(code for _, code in results)
        served = [seconds for seconds, code in results if code == 200]
    return {
        "officers": officers,
        "previews_requested": previews,
        "preview_answers": {str(code): count for code, count in sorted(statuses.items())},
        "preview_served_max_s": round(max(served), 2) if served else None,
        "storm_total_s": round(time.perf_counter() - began, 2),
        "emergency_idle_s": round(idle_emergency, 3),
        "emergency_during_previews_s": round(loaded_emergency, 3),
        "health_idle_max_s": round(max(idle_health), 3),
        "health_during_previews_max_s": round(max(health), 3) if health else None,
    }


def main() -> None:
    """Run the flood and write bench/results/preview_flood.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--previews", type=int, default=45)
    parser.add_argument("--name", default="preview_flood", help="results file name (e.g. for a before/after run)")
    args = parser.parse_args()
    os.environ["BROADCASTER_HANDOFF"] = "record"
    with tempfile.TemporaryDirectory(prefix="bench-previews-") as scratch:
        settings = Settings(data_dir=Path(scratch) / "data", cache_dir=Path(scratch) / "audio_cache",
                            schedules_dir=PROJECT_ROOT / "schedules", run_scheduler=False)
        tokens = seed(settings, args.previews)
        port = _free_port()
        server = start_serve_process(settings, port)
        try:
            base_url = f"http://127.0.0.1:{port}"
            results = {
                "one_officer": asyncio.run(flood(base_url, tokens, args.previews, 1, 1)),
                "one_preview_per_officer": asyncio.run(flood(base_url, tokens, args.previews, args.previews, 2)),
            }
        finally:
            server.terminate()
            server.wait(timeout=60)
    write_results(args.name, results)


if __name__ == "__main__":
    main()
