"""The morning session of every commune of the province: composition and hand-off, cold and warm cache.

Part of ``bench/province.py``. Each commune has three approved bulletins for the next two
mornings: two of its own (its own wording, so its own speech) and one that every commune carries
(a province bulletin: one speech for all). The leading replica's scheduler fires one session job
per commune at the session's compose time; here its executor is stood in for by a pool of
``scheduler_workers`` threads calling the same ``ProgrammingService.run_session`` the job calls,
with the same services a replica builds (``Runtime``: speech, audio cache, and the delivery service
that signs and stores each cluster's order in the outbox and queues it).

- cold: an empty audio cache, the first morning (every speech and every programme is rendered);
- warm: the next morning, same bulletins (the speech and the programmes are in the cache, as after
  a preview or the evening before): what is left is planning, the database and the hand-off.

Measured: from the first job to the last of the 1,000 orders stored (every session handed off).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bench.api import TEXTS
from bench.cpu_meter import CpuMeter
from broadcaster.api.runtime import Runtime
from broadcaster.clock import local
from broadcaster.config import Settings
from broadcaster.db import utc_now
from broadcaster.models import (
    Airing,
    Bulletin,
    BulletinStatus,
    Commune,
    DeliveryOrder,
    Priority,
    Role,
    User,
)
from broadcaster.timetable import next_occurrences

SESSION = "morning"
PROVINCE_TEXT = ("Sở Nông nghiệp tỉnh thông báo: từ ngày 10/12 đến ngày 20/12, các xã tổ chức tiêm phòng "
                 "cúm gia cầm đợt hai; đề nghị bà con chủ động đưa đàn gà, vịt đến điểm tiêm của thôn.")


def seed_bulletins(runtime: Runtime, days: tuple[date, date]) -> int:
    """Three approved bulletins per commune airing on ``days``; how many."""
    count = 0
    with runtime.db.session() as s:
        users = {(u.commune_id, u.role): u.id for u in s.scalars(select(User))}
        for commune in s.scalars(select(Commune).order_by(Commune.id)):
            author, approver = users[(commune.id, Role.OFFICER)], users[(commune.id, Role.APPROVER)]
            texts = [f"{commune.name} thông báo. {TEXTS[commune.id % len(TEXTS)]}",
                     f"{commune.name} nhắc bà con. {TEXTS[(commune.id + 2) % len(TEXTS)]}", PROVINCE_TEXT]
            for number, text in enumerate(texts):
                s.add(Bulletin(commune_id=commune.id, title=f"Buổi sáng {number + 1}", text=text,
                               priority=Priority.PRIORITY if text is PROVINCE_TEXT else Priority.NORMAL,
                               target_all=True, start_date=days[0], end_date=days[1], repeat=2,
                               status=BulletinStatus.APPROVED, author_id=author, approver_id=approver,
                               submitted_at=utc_now(), decided_at=utc_now()))
                count += 1
    return count


def next_mornings(runtime: Runtime) -> list[datetime]:
    """The next two morning sessions of the default timetable (every commune has it)."""
    timetable = runtime.timetables["default"]
    now = runtime.clock.now()
    return [o.starts_at for o in next_occurrences(timetable, now, now + timedelta(days=8)) if o.name == SESSION][:2]


def run_mornings(runtime: Runtime, starts_at: datetime, trees: dict[str, list[int]]) -> dict[str, Any]:
    """Every commune's session at ``starts_at``, on ``scheduler_workers`` threads, until all orders are stored."""
    programming = runtime.programming  # built before the clock starts, as the leader has it at start-up
    with runtime.db.session() as s:
        communes = list(s.scalars(select(Commune.id).order_by(Commune.id)))
        orders_before = s.scalar(select(func.count()).select_from(DeliveryOrder)) or 0
    cpu = CpuMeter(trees, me="composer")
    began = time.perf_counter()
    finished: list[float] = []

    def one(commune_id: int) -> str:
        result = programming.run_session(commune_id, SESSION, starts_at)
        finished.append(time.perf_counter() - began)
        return str(result.status)

    with ThreadPoolExecutor(runtime.settings.scheduler_workers) as pool:
        statuses = list(pool.map(one, communes))
    elapsed = time.perf_counter() - began
    with runtime.db.session() as s:
        orders = (s.scalar(select(func.count()).select_from(DeliveryOrder)) or 0) - orders_before
        airings = s.scalar(select(func.count()).select_from(Airing).where(Airing.starts_at == starts_at)) or 0
    by_status: dict[str, int] = {}
    for status in statuses:
        by_status[status] = by_status.get(status, 0) + 1
    return {"session": f"{SESSION} {local(starts_at):%Y-%m-%d %H:%M}", "communes": len(communes),
            "workers": runtime.settings.scheduler_workers, "airings": airings, "statuses": by_status,
            "orders_stored": orders, "handed_off_to_all_s": round(elapsed, 2),
            "first_commune_done_s": round(min(finished), 2) if finished else None,
            "cpu_s": cpu.read()}


def morning(settings: Settings, trees: dict[str, list[int]]) -> dict[str, Any]:
    """Seed the bulletins, then the cold morning and the warm one; the figures of both."""
    runtime = Runtime(settings.model_copy(update={"handoff": "deliver", "run_scheduler": False}))
    try:
        runtime.start_blocking()
        mornings = next_mornings(runtime)
        bulletins = seed_bulletins(runtime, (local(mornings[0]).date(), local(mornings[1]).date()))
        cold = run_mornings(runtime, mornings[0], trees)
        warm = run_mornings(runtime, mornings[1], trees)
        return {"bulletins": bulletins, "cold": cold, "warm": warm}
    finally:
        runtime.stop()
