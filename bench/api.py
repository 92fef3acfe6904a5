"""API benchmark: bulletin submission latency at a fixed request rate, and composing a 20-bulletin session.

Run: .venv/bin/python bench/api.py [--rate 20] [--seconds 15]   (writes bench/results/api.json)

1. Submission latency: `broadcaster serve` (a real uvicorn, scheduler off) in its own process on a
   scratch SQLite database; an open-loop client sends POST /api/v1/bulletins (create) and then
   POST /bulletins/{id}/submit at a fixed rate. Latency is measured from the moment each request was
   *due*, so a server that falls behind shows it (no coordinated omission).
2. Session composition: ProgrammingService.run_session over 20 approved bulletins at 3 clusters,
   first with an empty audio cache (cold: every bulletin synthesized), then for the next session
   with the cache filled (warm).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results_file import write_results  # noqa: E402
from broadcaster.clock import SystemClock, local  # noqa: E402
from broadcaster.config import PROJECT_ROOT, Settings  # noqa: E402
from broadcaster.db import Database  # noqa: E402
from broadcaster.models import Commune, Role, User  # noqa: E402
from broadcaster.services import auth, registry, users  # noqa: E402
from broadcaster.services.bulletins import BulletinFields, BulletinService  # noqa: E402
from broadcaster.services.workflow import Workflow  # noqa: E402
from broadcaster.uploads import UploadStore  # noqa: E402
from tests.fakes.serve_process import start_serve_process  # noqa: E402

PASSWORD = "mat-khau-benchmark"
TEXTS = [
    "UBND xã thông báo: sáng thứ Bảy ngày 12/12, trạm y tế xã tiêm vắc-xin cho trẻ từ 9 tháng đến 5 tuổi.",
    "Hội Nông dân xã tổ chức tập huấn kỹ thuật trồng lúa vụ Đông Xuân vào 8h ngày 15/12 tại nhà văn hóa.",
    "Đề nghị các hộ gia đình nộp thuế sử dụng đất phi nông nghiệp trước ngày 31/12/2026.",
    "Công an xã khuyến cáo bà con cảnh giác với các cuộc gọi lừa đảo giả danh cơ quan chức năng.",
    "Điện lực huyện cắt điện từ 7h đến 11h ngày 18/12 để bảo dưỡng đường dây ở thôn Đông và thôn Đoài.",
]


def settings_for(directory: Path) -> Settings:
    """Scratch settings: database, uploads and audio cache under ``directory``."""
    return Settings(data_dir=directory / "data", cache_dir=directory / "audio_cache",
                    schedules_dir=PROJECT_ROOT / "schedules", run_scheduler=False)


def seed(settings: Settings, clusters: int = 3) -> dict[str, Any]:
    """A commune with clusters, an officer and an approver, and their tokens."""
    db = Database(settings.effective_database_url)
    db.upgrade()
    with db.session() as session:
        commune = registry.create_commune(session, None, code="xa-do-toc-do", name="Xã Đo Tốc Độ",
                                          schedules_dir=settings.schedules_dir)
        province = users.create_user(session, None, username="tinh", password=PASSWORD, role=Role.ADMIN,
                                     commune_id=None)
        for index in range(clusters):
            registry.create_cluster(session, province, commune.id, registry.ClusterFields(name=f"Cụm {index + 1}"))
        officer = users.create_user(session, None, username="canbo", password=PASSWORD, role=Role.OFFICER,
                                    commune_id=commune.id)
        approver = users.create_user(session, None, username="lanhdao", password=PASSWORD, role=Role.APPROVER,
                                     commune_id=commune.id)
        seeded = {
            "db": db, "commune_id": commune.id, "officer_id": officer.id, "approver_id": approver.id,
            "officer_token": auth.issue_token(session, officer, ttl=timedelta(days=1)).token,
        }
    return seeded


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    """`broadcaster serve` on ``port`` with the scratch settings, once it answers /health."""
    return start_serve_process(settings, port)


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99/max in milliseconds."""
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50_ms": round(cut[49] * 1000, 2), "p90_ms": round(cut[89] * 1000, 2),
            "p99_ms": round(cut[98] * 1000, 2), "max_ms": round(ordered[-1] * 1000, 2)}


async def open_loop(base_url: str, token: str, rate: float, seconds: float) -> dict[str, Any]:
    """Create-then-submit at ``rate`` per second for ``seconds``; latencies from each request's due time."""
    headers = {"Authorization": f"Bearer {token}"}
    created: list[float] = []
    submitted: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as client:
        # One untimed round first: the server imports the text pipeline on its first bulletin.
        warm = await client.post("/api/v1/bulletins", json={"title": "Khởi động", "text": TEXTS[0]})
        await client.post(f"/api/v1/bulletins/{warm.json()['id']}/submit")
        start = time.perf_counter() + 0.2

        async def one(index: int) -> None:
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            body = {"title": f"Bản tin số {index}", "text": TEXTS[index % len(TEXTS)], "repeat": 2}
            response = await client.post("/api/v1/bulletins", json=body)
            created.append(time.perf_counter() - due)
            if response.status_code != 201:
                errors.append(f"create {response.status_code}")
                return
            sent = time.perf_counter()
            response = await client.post(f"/api/v1/bulletins/{response.json()['id']}/submit")
            submitted.append(time.perf_counter() - sent)
            if response.status_code != 200:
                errors.append(f"submit {response.status_code}")

        total = int(rate * seconds)
        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - began
    return {
        "offered_rate_per_s": rate, "requests": total, "elapsed_s": round(elapsed, 2),
        "achieved_rate_per_s": round(total / elapsed, 2), "errors": errors[:10], "error_count": len(errors),
        "create_latency": percentiles(created), "submit_latency": percentiles(submitted),
    }


def bench_submission(rate: float, seconds: float) -> dict[str, Any]:
    """Latency of bulletin creation and submission against a real uvicorn."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as scratch:
        settings = settings_for(Path(scratch))
        seeded = seed(settings)
        seeded["db"].dispose()
        port = _free_port()
        server = start_server(settings, port)
        try:
            return asyncio.run(open_loop(f"http://127.0.0.1:{port}", seeded["officer_token"], rate, seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)


def bench_composition(bulletins: int = 20) -> dict[str, Any]:
    """Seconds to compose, render and hand off a session of ``bulletins`` bulletins: cold cache, then warm."""
    from broadcaster.services.handoff import RecordingHandoff
    from broadcaster.services.programming import ProgrammingService
    from broadcaster.speech import SpeechService
    from broadcaster.timetable import effective_timetable, load_timetables, next_occurrences

    with tempfile.TemporaryDirectory(prefix="bench-compose-") as scratch:
        settings = settings_for(Path(scratch))
        seeded = seed(settings)
        db: Database = seeded["db"]
        clock = SystemClock()
        timetables = load_timetables(settings.schedules_dir)
        with db.session() as session:
            commune = session.get(Commune, seeded["commune_id"])
            assert commune is not None
            timetable = effective_timetable(commune, timetables)
        now = clock.now()
        first, second = [o for o in next_occurrences(timetable, now, now + timedelta(days=8))
                         if o.starts_at > now + timedelta(minutes=30)][:2]
        with db.session() as session:
            service = BulletinService(session, clock=clock,
                                      uploads=UploadStore(settings.data_dir / "uploads", max_bytes=1, max_duration_s=1))
            workflow = Workflow(service, programming=lambda: None)  # type: ignore[arg-type,return-value]
            officer = session.get(User, seeded["officer_id"])
            approver = session.get(User, seeded["approver_id"])
            for index in range(bulletins):
                fields = BulletinFields(title=f"Bản tin {index + 1}", text=f"Tin số {index + 1}. {TEXTS[index % 5]}",
                                        start_date=local(first.starts_at).date(),
                                        end_date=local(second.starts_at).date())
                bulletin = service.create(officer, fields).bulletin  # type: ignore[arg-type]
                workflow.submit(officer, bulletin.id)  # type: ignore[arg-type]
                workflow.approve(approver, bulletin.id)  # type: ignore[arg-type]
        handoff = RecordingHandoff()
        programming = ProgrammingService(settings, db, SpeechService(settings), handoff, timetables, clock=clock)
        timings = {}
        for label, occurrence in (("cold_cache_s", first), ("warm_cache_s", second)):
            started = time.perf_counter()
            result = programming.run_session(seeded["commune_id"], occurrence.name, occurrence.starts_at)
            timings[label] = round(time.perf_counter() - started, 3)
            assert result.airing_id is not None, result
        db.dispose()
        return {"bulletins": bulletins, "clusters": 3, **timings,
                "programmes_handed_off": len(handoff.programmes),
                "programme_duration_s": round(handoff.programmes[-1].audio.duration_s, 1)}


def main() -> None:
    """Run both measurements and write bench/results/api.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="requests (create + submit pairs) per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to send")
    args = parser.parse_args()
    write_results("api", {
        "submission": bench_submission(args.rate, args.seconds),
        "session_composition": bench_composition(),
    })


if __name__ == "__main__":
    main()
