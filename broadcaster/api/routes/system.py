"""Service endpoints: health and Prometheus metrics (no token needed)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from broadcaster.api.deps import RuntimeDep
from broadcaster.services.health import DatabaseState, LeaseState, SchedulerState, check_health


class ProblemOut(BaseModel):
    """Why the service is degraded."""

    code: str = Field(description="database_busy, storage_full, database_unavailable, disk_space_low, "
                                  "scheduler_lease_not_held")
    message: str


class DiskOut(BaseModel):
    """Free space where the service writes."""

    name: str
    path: str
    free_bytes: int
    ok: bool


class HealthOut(BaseModel):
    """Whether the service can do its work, and if not, why."""

    status: Literal["ok", "degraded"]
    database: DatabaseState = Field(description="ok: takes reads and writes; busy: a writer holds the lock; "
                                                "full: its disk is full; error: unreachable")
    scheduler: SchedulerState = Field(
        description="leader: this process runs the timetables; standby: another one does; off: not started here")
    scheduler_lease: LeaseState = Field(description="held_here, held_elsewhere, or not_held (no session airs)")
    disks: list[DiskOut]
    problems: list[ProblemOut]


router = APIRouter(tags=["hệ thống"])


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut,
                                                                  "description": "Cơ sở dữ liệu không ghi được"}})
def health(runtime: RuntimeDep, response: Response) -> HealthOut:
    """Health: degraded with the reasons (database writable, free disk, scheduler lease); 503 if the database is not."""
    settings = runtime.settings
    scheduler = runtime.scheduler
    state: SchedulerState = "off" if scheduler is None else "leader" if scheduler.is_leader else "standby"
    report = check_health(runtime.db, runtime.node, disks={"data": settings.data_dir, "cache": settings.cache_dir},
                          min_free_bytes=settings.min_free_disk_bytes, scheduler=state)
    if report.database != "ok":
        response.status_code = 503
    return HealthOut(status=report.status, database=report.database, scheduler=report.scheduler,
                     scheduler_lease=report.scheduler_lease,
                     disks=[DiskOut(**vars(disk)) for disk in report.disks],
                     problems=[ProblemOut(**vars(problem)) for problem in report.problems])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests by route and status, latency, bulletins by status."""
    body, content_type = request.app.state.metrics.render()
    return Response(content=body, media_type=content_type)
